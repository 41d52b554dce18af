"""The district link end to end on the compound's side: a real `hub serve`, the
compound's Mosquitto bridged (as `hub district link` writes it) to a second Mosquitto
standing for the district's broker, a gate publishing on its own login, and a small
street-office consumer that reads everything the bridge carries up and acks the feed.

What leaves the compound is only the masked feed, the status and the orders' reports;
orders come down and reach the gates' bundle; a hub killed with -9 loses no event and
applies no order twice."""
from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.bundle import unseal
from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import (
    CompoundStatus,
    FeedAck,
    FeedBatch,
    Order,
    OrderKind,
    OrderList,
    OrderReport,
    signed_order,
)
from gatehouse.endpoint import Endpoint
from gatehouse.events import Event, EventBatch, dump, parse
from gatehouse.home import Home
from gatehouse.net import close_client
from hub import broker, district_config, district_feed, meta, schema
from hub.district_uplink import LINK_META
from hub.gates import add_gate, setup_broker
from tests.processes import BIN, Broker, Process, free_port, wait_until

FULL_NAMES = ("欧阳建国", "Wang Xiaoming")
DISTRICT_KEY = SigningKey.generate()


class Mqtt:
    """A plain MQTT client recording what it receives; `on` hooks a reply."""

    def __init__(self, ep: Endpoint, cid: str, subscribe: str | None = None, on=None):
        self.received: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.on = on
        c = self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid,
                                 protocol=mqtt.MQTTv311, clean_session=True)
        c.username_pw_set(ep.username, ep.password)
        c.reconnect_delay_set(0.2, 1)

        def connected(cl, u, flags, rc, props):
            if subscribe:
                cl.subscribe(subscribe, qos=1)
            self.ready.set()
        c.on_connect = connected
        c.on_message = self._message
        c.connect(ep.host, ep.port)
        c.loop_start()
        wait_until(self.ready.is_set, 10, message=f"{cid} connected")

    def _message(self, cl, u, m) -> None:
        with self.lock:
            self.received.append((m.topic, m.payload))
        if self.on:
            self.on(self, m.topic, m.payload)

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(10)

    def of(self, suffix: str) -> list[bytes]:
        with self.lock:
            return [p for t, p in self.received if t.endswith(suffix)]

    def close(self) -> None:
        close_client(self.c)


class Street:
    """The district side: reads district/# and, when `acking`, acks each feed batch."""

    def __init__(self, ep: Endpoint):
        self.acking = False
        self.mqtt = Mqtt(ep, "street-office", "district/#", self._on)

    def _on(self, client: Mqtt, topic: str, payload: bytes) -> None:
        if self.acking and topic == "district/c1/gatehouse/hub/district/feed":
            batch = parse(FeedBatch, payload)
            cseqs = [e.cseq for e in batch.events]
            self.ack("c1", [(min(cseqs), max(cseqs))])

    def ack(self, compound: str, ranges) -> None:
        self.mqtt.c.publish("district/c1/down/ack",
                            dump(FeedAck(compound=compound, ranges=ranges)), qos=1)

    def feed(self) -> list:
        return [e for p in self.mqtt.of("/hub/district/feed")
                for e in parse(FeedBatch, p).events]

    def reports(self) -> list[OrderReport]:
        return [parse(OrderReport, p) for p in self.mqtt.of("/hub/district/reports")]

    def orders(self, *texts: str) -> None:
        self.mqtt.publish("district/c1/down/orders", dump(OrderList(
            district="street1", compound="c1", orders=list(texts))))


@pytest.fixture
def link(compound, tmp_path):
    """Both brokers, the bridge, the trusted district key, a gate, the street office and
    a way to (re)start `hub serve`."""
    dport = free_port()
    dfiles = broker.write_district_files(tmp_path / "district", dport)
    broker.set_password(dfiles.passwd, "street", "street-pw")
    broker.set_password(dfiles.passwd, "c1", "c1-pw")
    port = free_port()
    files = setup_broker(compound.home, port)
    gate_ep = add_gate(compound, "gate-1", kiosk_home=Home.at(tmp_path / "k"))
    district_config.trust(compound.db, "street1", DISTRICT_KEY.public_raw)
    district_config.set_compound(compound.db, "c1")
    broker.write_bridge(files, "c1", "127.0.0.1", dport, "c1", "c1-pw")
    district = Broker(dfiles, dport, tmp_path / "district.log").start()
    local = Broker(files, port, tmp_path / "compound.log").start()
    made: list = []

    def hub(status_s: float = 5) -> Process:
        """`hub serve`, once its link is up (its first status reached the district)."""
        seen = len(street.mqtt.of("/hub/district/status"))
        p = Process([BIN / "hub", "serve", "--home", compound.home.root],
                    tmp_path / "hub.log", {"GATEHOUSE_HEALTH_PORT": "0",
                                           "GATEHOUSE_DISTRICT_RESEND_S": "2",
                                           "GATEHOUSE_DISTRICT_STATUS_S": str(status_s)}
                    ).start()
        made.append(p)
        wait_until(lambda: len(street.mqtt.of("/hub/district/status")) > seen
                   or not p.running(), 30, message="the hub's link up")
        assert p.running(), p.tail()
        return p
    street = Street(Endpoint("127.0.0.1", dport, "street", "street-pw"))
    gate = Mqtt(gate_ep, "gate-1")
    wait_until(lambda: " as c1 " in district.output(), 10, message="the bridge")
    ns = type("Link", (), {})()
    ns.hub, ns.street, ns.gate, ns.home = hub, street, gate, compound.home
    ns.local, ns.district = local, district
    try:
        yield ns
    finally:
        for p in made:
            p.stop()
        street.mqtt.close()
        gate.close()
        local.stop()
        district.stop()


def events(first_seq: int, n: int, name: str | None = None) -> list[Event]:
    return [Event(seq=s, id=uuid.uuid4().hex, kind="attempt", at=time.time(),
                  payload={"direction": "in", "outcome": "admit", "person_ref": "cd" * 12,
                           "household": "7-2-302", "building": "7",
                           **({"name": name, "who": name} if name else {})})
            for s in range(first_seq, first_seq + n)]


def send(gate: Mqtt, evs: list[Event]) -> None:
    gate.publish(topics.gate_events("gate-1"),
                 dump(EventBatch(gate="gate-1", sent_at=time.time(), events=evs)))


def db_of(home):
    return schema.open_db(home.hub_db)


def order(seq: int, kind=OrderKind.SEAL, building="7", compound="c1", key=DISTRICT_KEY):
    return signed_order(Order(district="street1", compound=compound, seq=seq, kind=kind,
                              building=building, issued_at=time.time(),
                              issued_by="street admin"), key)


def test_only_the_masked_feed_leaves_and_it_is_sent_again_until_acked(link):
    hub = link.hub()
    send(link.gate, events(1, 2, FULL_NAMES[0]) + events(3, 1, FULL_NAMES[1]))
    wait_until(lambda: {e.cseq for e in link.street.feed()} >= {1, 2, 3}, 20,
               message="the feed at the district")
    # Not acked: the same events come again (resend after 2 s here).
    wait_until(lambda: [e.cseq for e in link.street.feed()].count(1) >= 2, 20,
               message="the unacked feed sent again")
    db = db_of(link.home)
    assert district_feed.backlog(db) == 3
    # Another compound's ack changes nothing; this compound's own ack is applied.
    link.street.ack("c2", [(1, 3)])
    link.street.ack("c1", [(1, 1)])
    wait_until(lambda: district_feed.first_unacked(db) != 1, 10, message="the ack of c1")
    assert district_feed.first_unacked(db) == 2 and district_feed.backlog(db) == 2
    link.street.acking = True
    wait_until(lambda: district_feed.backlog(db) == 0, 20, message="all acked")
    wait_until(lambda: link.street.mqtt.of("/hub/district/status"), 20,
               message="the compound's status")
    status = parse(CompoundStatus, link.street.mqtt.of("/hub/district/status")[-1])
    assert (status.compound, status.gates_total) == ("c1", 1)
    # Everything the bridge carried up: the district link's topics, no name in any byte.
    with link.street.mqtt.lock:
        up = [(t, p) for t, p in link.street.mqtt.received
              if not t.startswith("district/c1/down/")]    # the street's own acks
    assert {t for t, _ in up} <= {"district/c1/gatehouse/hub/district/feed",
                                  "district/c1/gatehouse/hub/district/status",
                                  "district/c1/gatehouse/hub/district/reports"}
    for name in FULL_NAMES:
        for form in (name.encode(), json.dumps(name).encode()):
            assert not any(form in p for _, p in up), name
    assert {e.name for e in link.street.feed()} == {"欧**国", "W*** X*******"}
    assert meta.get_meta(db, LINK_META).startswith("up ")
    hub.stop()
    assert meta.get_meta(db, LINK_META).startswith("down ")      # hub district status


def test_an_order_reaches_the_bundle_once_and_bad_ones_are_reported(link, compound):
    hub = link.hub(status_s=3600)     # a status now comes only when something changes
    link.gate.c.subscribe(topics.HUB_BUNDLE, qos=1)
    wait_until(lambda: link.gate.of("hub/bundle"), 10, message="the first bundle")
    link.street.orders(order(1))
    wait_until(lambda: any(r.seq == 1 for r in link.street.reports()), 20,
               message="the order's report")
    [r] = link.street.reports()
    assert r.status.value == "applied"
    # The gates get the new bundle, with the building sealed.
    wait_until(lambda: any(unseal(b, compound.hub_trusted_key()).version == r.bundle_version
                           for b in link.gate.of("hub/bundle")), 10, message="the bundle")
    bundle = unseal(link.gate.of("hub/bundle")[-1], compound.hub_trusted_key())
    assert bundle.buildings["7"].value == "sealed"
    # The district hears of it at once: the status changed.
    wait_until(lambda: any(st.order_seq == 1 and st.buildings == {"7": "sealed"}
                           for st in (parse(CompoundStatus, p) for p in
                                      link.street.mqtt.of("/hub/district/status"))), 10,
               message="the changed status")
    # Broken messages are set aside with their reason; the link goes on.
    link.street.mqtt.publish("district/c1/down/orders", b"\xff not json")
    link.street.mqtt.publish("district/c1/down/ack", b'{"v": 1, "compound": "c1"}')
    db = db_of(link.home)
    wait_until(lambda: db["quarantine"].count >= 2, 10, message="the quarantine")
    reasons = sorted(r["reason"] for r in db.query("select reason from quarantine"))
    assert all(r.startswith("district: ") for r in reasons), reasons
    assert any("not JSON" in r for r in reasons) and any("ranges" in r for r in reasons)
    # Forged, another compound's, stale: each refused or reported stale, none applied.
    link.street.orders(order(2, key=SigningKey.generate()), order(3, compound="c2"),
                       order(1, OrderKind.REOPEN))
    wait_until(lambda: len(link.street.reports()) >= 4, 20, message="three more reports")
    later = [(x.seq, x.status.value) for x in link.street.reports()[1:]]
    assert later == [(0, "refused"), (0, "refused"), (1, "applied")]   # 1 is answered again
    assert db["building_events"].count == 1
    assert [a["kind"] for a in db.query("select kind from alerts")] == ["district_order_forged"]
    # Killed with -9 and started again, the district sends order 1 again: answered, not
    # applied twice; then order 2 (genuine now) applies.
    hub.kill()
    bundles = db["bundles"].count
    hub = link.hub()
    link.street.orders(order(1), order(2, OrderKind.REOPEN))
    wait_until(lambda: any(x.seq == 2 and x.status.value == "applied"
                           for x in link.street.reports()), 20, message="order 2")
    assert db["building_events"].count == 2 and db["bundles"].count == bundles + 1
    hub.stop()


def test_kill_9_of_hub_serve_loses_no_feed_event(link):
    link.street.acking = True
    hub = link.hub()
    sent: list[Event] = []
    for n in range(20):
        batch = events(n * 25 + 1, 25)
        send(link.gate, batch)
        sent += batch
        if n in (6, 13):
            hub.kill()          # mid-ingest, mid-feed
            hub = link.hub()
    wait_until(lambda: {e.id for e in link.street.feed()} >= {e.id for e in sent}, 60,
               message="every event at the district")
    got = {e.cseq: e.id for e in link.street.feed()}
    assert sorted(got) == list(range(1, len(sent) + 1))        # gap-free, none twice
    assert set(got.values()) == {e.id for e in sent}
    wait_until(lambda: district_feed.backlog(db_of(link.home)) == 0, 20, message="acked")
    hub.stop()


def test_a_district_down_for_a_while_gets_everything_when_it_returns(link):
    """The bridge says 0: the hub stops sending and keeps the backlog; the bridge says 1
    again: everything goes, in sequence, and is acked."""
    link.street.acking = True
    hub = link.hub()
    send(link.gate, events(1, 10))
    db = db_of(link.home)
    wait_until(lambda: district_feed.backlog(db) == 0 and district_feed.last_cseq(db) == 10,
               20, message="the first events acked")
    link.district.stop()
    wait_until(lambda: meta.get_meta(db, LINK_META).startswith("down "), 20,
               message="the hub seeing the link down")
    send(link.gate, events(11, 40))                       # the compound works on
    wait_until(lambda: district_feed.last_cseq(db) == 50, 20, message="stored at the hub")
    assert district_feed.backlog(db) == 40
    link.district.start()
    wait_until(lambda: meta.get_meta(db, LINK_META).startswith("up "), 30,
               message="the link up again")
    wait_until(lambda: district_feed.backlog(db) == 0, 30, message="the backlog acked")
    got = {e.cseq for e in link.street.feed()}
    assert got == set(range(1, 51))
    hub.stop()
