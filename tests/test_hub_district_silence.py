"""A district link that is up but silent (feed sent, no FeedAck back): one alert, the
link's status says so, both cleared by the next ack. The uplink's own clock is injected
(minutes pass in a step); then a real `hub serve` whose bridge's `down/#` subscription
the district's broker refuses, as nats-server did after a node kill."""
from __future__ import annotations

import json
import time

from click.testing import CliRunner

from gatehouse import topics
from gatehouse.district_wire import CompoundStatus, FeedAck, FeedBatch
from gatehouse.events import dump, parse
from hub import district_config, district_feed, schema
from hub.cli import main
from hub.district_uplink import DistrictUplink, UplinkConfig, state_topic
from hub.ingest import ingest
from hub.features import event_handlers
from tests.processes import BIN, Process, wait_until
from tests.test_hub_district import attempt, batch
from tests.test_hub_district_link import events, link, send  # noqa: F401 (fixture)

HANDLERS = event_handlers()  # every feature's, as a hub process registers them at start

SILENT = "district_silent"


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def status(home) -> dict:
    out = CliRunner().invoke(main, ["district", "status", "--home", str(home.root)])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def statuses(sent: list[tuple[str, bytes]]) -> list[CompoundStatus]:
    return [parse(CompoundStatus, p) for t, p in sent if t == topics.HUB_DISTRICT_STATUS]


def open_alerts(db) -> list[dict]:
    return list(db.query("select * from alerts where kind = ? and acked_at is null",
                         [SILENT]))


def test_no_ack_for_ten_minutes_raises_one_alert_and_the_next_ack_clears_it(compound):
    db = compound.db
    db["gates"].insert({"id": "gate-a", "name": "gate-a"})
    district_config.set_compound(db, "c1")
    district_config.trust(db, "street1", b"k" * 32)
    ingest(db, [batch("gate-a", *(attempt(n) for n in range(1, 4)))],
           compound.build_bundle(1, 0).policy, HANDLERS)
    sent: list[tuple[str, bytes]] = []
    clock = Clock(time.time())
    uplink = DistrictUplink(compound.home.hub_db, lambda t, p: sent.append((t, p)) or True,
                            lambda: True, lambda d, at: 0, UplinkConfig(tick_s=0),
                            clock=clock, elapsed=clock)
    assert UplinkConfig().silent_s == 600        # the default: ten minutes

    def tick(minutes: float = 0, *messages: tuple[str, bytes]) -> None:
        clock.t += minutes * 60
        for topic, payload in messages:
            uplink.receive(topic, payload, None)
        uplink.tick(db, clock.t)

    tick(0, (state_topic("c1"), b"1"))
    assert [parse(FeedBatch, p).events[-1].cseq for t, p in sent
            if t == topics.HUB_DISTRICT_FEED] == [3]
    tick(9.9)
    assert open_alerts(db) == [] and status(compound.home)["link"] == "up"
    tick(0.2)
    [alert] = open_alerts(db)
    assert json.loads(alert["detail"])["backlog"] == 3
    doc = status(compound.home)
    assert doc["link"] == "silent" and doc["no_ack_since"] is not None
    # The district hears it from the compound's status (the way up still works), at once.
    tick(1 / 60)
    assert statuses(sent)[-1].no_ack_since == doc["no_ack_since"]
    for _ in range(5):                 # silent for an hour more: still one alert
        tick(12)
    assert db.execute("select count(*) from alerts where kind = ?", [SILENT]).fetchone()[0] == 1
    # An ack again: cleared, the alert acknowledged by the link, kept in the log.
    tick(1, (topics.DISTRICT_ACK, dump(FeedAck(compound="c1", ranges=[(1, 3)]))))
    assert open_alerts(db) == [] and status(compound.home)["link"] == "up"
    [done] = db.query("select acked_by from alerts where kind = ?", [SILENT])
    assert done["acked_by"] == "district-link"
    tick(1 / 60)
    assert statuses(sent)[-1].no_ack_since is None
    # Nothing pending, no ack for hours: not silent (nothing to acknowledge).
    tick(180)
    assert open_alerts(db) == [] and status(compound.home)["no_ack_since"] is None
    # Another compound's ack clears nothing, and a link down is not silent.
    ingest(db, [batch("gate-a", attempt(4))], compound.build_bundle(2, 0).policy, HANDLERS)
    tick(1)
    tick(11, (topics.DISTRICT_ACK, dump(FeedAck(compound="c2", ranges=[(4, 4)]))))
    assert len(open_alerts(db)) == 1
    tick(0, (state_topic("c1"), b"0"))
    assert status(compound.home)["link"] == "down"
    tick(30)
    tick(0, (state_topic("c1"), b"1"))
    tick(1, (topics.DISTRICT_ACK, dump(FeedAck(compound="c1", ranges=[(4, 4)]))))
    assert open_alerts(db) == [] and status(compound.home)["link"] == "up"


def test_the_wall_clock_stepping_an_hour_raises_no_silence(compound):
    """Review R6 (session 6): a hub without a battery clock steps its time at its first
    NTP sync, often just as the link comes up with the night's backlog. The silence was
    timed on the wall clock: the step was an alert at once. It is timed on the elapsed
    clock now; ten real minutes without an ack still raise it."""
    db = compound.db
    db["gates"].insert({"id": "gate-a", "name": "gate-a"})
    district_config.set_compound(db, "c1")
    district_config.trust(db, "street1", b"k" * 32)
    ingest(db, [batch("gate-a", attempt(1))], compound.build_bundle(1, 0).policy, HANDLERS)
    wall, elapsed = Clock(time.time()), Clock(1000.0)
    uplink = DistrictUplink(compound.home.hub_db, lambda t, p: True, lambda: True,
                            lambda d, at: 0, UplinkConfig(tick_s=0), clock=wall,
                            elapsed=elapsed)
    uplink.receive(state_topic("c1"), b"1", None)
    uplink.tick(db, wall.t)
    wall.t += 3600                     # NTP steps the clock an hour on; 2 s pass
    elapsed.t += 2
    uplink.tick(db, wall.t)
    assert open_alerts(db) == [] and status(compound.home)["link"] == "up"
    elapsed.t += 601                   # ten real minutes without an ack
    wall.t += 601
    uplink.tick(db, wall.t)
    assert len(open_alerts(db)) == 1 and status(compound.home)["link"] == "silent"


def test_a_refused_down_subscription_is_an_alert_until_the_bridge_reconnects(link, tmp_path):
    """The district's broker refuses the compound's `down/#` (its ACL no longer lets it
    read): the bridge is up, the feed arrives, the street acks, nothing comes down. The
    hub says so; once the district allows it again and the compound's broker is
    restarted (what the alert tells the technician), acks come and it clears."""
    acl = link.district.files.acl
    allowed = acl.read_text()
    acl.write_text(allowed.replace("pattern read district/%u/down/#\n", ""))
    assert acl.read_text() != allowed
    link.district.stop()
    link.district.start()
    link.street.mqtt.ready.clear()
    wait_until(link.street.mqtt.ready.is_set, 20, message="the street back")
    link.street.acking = True
    hub = Process([BIN / "hub", "serve", "--home", link.home.root], tmp_path / "hub2.log",
                  {"GATEHOUSE_HEALTH_PORT": "0", "GATEHOUSE_DISTRICT_RESEND_S": "1",
                   "GATEHOUSE_DISTRICT_SILENT_S": "3"}).start()
    try:
        wait_until(lambda: link.street.mqtt.of("/hub/district/status"), 30,
                   message="the hub's status at the district (its link up)")
        send(link.gate, events(1, 5))
        wait_until(lambda: {e.cseq for e in link.street.feed()} >= set(range(1, 6)), 30,
                   message="the feed at the district")
        db = schema.open_db(link.home.hub_db)
        wait_until(lambda: open_alerts(db), 30, message="the silent alert")
        assert status(link.home)["link"] == "silent"
        # Its status still goes up the bridge, saying so, for the district's page.
        wait_until(lambda: any(parse(CompoundStatus, p).no_ack_since
                               for p in link.street.mqtt.of("/hub/district/status")), 10,
                   message="the status saying no acks")
        assert district_feed.backlog(db) == 5
        # It goes on resending, unanswered: still one alert.
        resent = len(link.street.feed())
        wait_until(lambda: len(link.street.feed()) >= resent + 10, 30, message="resends")
        assert db.execute("select count(*) from alerts where kind = ?",
                          [SILENT]).fetchone()[0] == 1
        # The district allows it again; Mosquitto does not subscribe again by itself.
        acl.write_text(allowed)
        link.district.stop()
        link.district.start()
        link.local.stop()
        link.local.start()
        wait_until(lambda: district_feed.backlog(db) == 0, 60, message="acks again")
        wait_until(lambda: not open_alerts(db), 10, message="the alert cleared")
        assert status(link.home)["link"] == "up"
    finally:
        hub.stop()
