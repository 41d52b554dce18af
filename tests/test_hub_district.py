"""The compound's side of its district link, on real SQLite: the feed's gap-free `cseq`
(hub/schema.py m009), what a feed event holds (hub/district_feed.py), and the district's
orders applied as the office would (hub/district_orders.py)."""
import json
import threading
import time
import uuid

import pytest

from gatehouse import topics
from gatehouse.bundle import unseal
from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import Order, OrderKind, OrderList, ReportStatus, signed_order
from gatehouse.events import Event, EventBatch, dump
from hub import district_config, district_feed, schema
from hub.compound import Compound
from hub.district_orders import BUNDLE_DUE, OrderDesk
from hub.district_status import compound_status
from hub.features import event_handlers
from hub.ingest import Incoming, ingest

HANDLERS = event_handlers()  # every feature's, as a hub process registers them at start

FULL_NAME = "欧阳建国"


def batch(gate, *events):
    return Incoming(topics.gate_events(gate), dump(EventBatch(gate=gate, sent_at=time.time(),
                                                              events=list(events))),
                    time.time())


def attempt(seq, **payload):
    return Event(seq=seq, id=uuid.uuid4().hex, kind="attempt", at=time.time(),
                 payload={"direction": "in", "outcome": "admit", "person_ref": "ab" * 12,
                          "household": "7-2-302", "building": "7", **payload})


def door(seq):
    return Event(seq=seq, id=uuid.uuid4().hex, kind="door_forced", at=time.time(), payload={})


def setup(compound, gates=("gate-a", "gate-b")):
    for g in gates:
        compound.db["gates"].insert({"id": g, "name": g})
    return compound.db, compound.build_bundle(1, int(time.time())).policy


def feed(db):
    return [(r["cseq"], r["event_id"]) for r in db.query(
        "select cseq, event_id from district_feed order by cseq")]


# The feed ------------------------------------------------------------------------

def test_every_event_gets_the_next_cseq_under_concurrent_ingest(compound):
    """Two writers (as the hub's ingest and a second process would) on one file, with a
    broken event in some batches (set aside in a savepoint): no number skipped or
    given twice, and every stored event has one."""
    _, policy = setup(compound)
    path = compound.home.hub_db

    def gate(name: str) -> None:
        db = schema.open_db(path)
        seq = 0
        for n in range(40):
            events = []
            for _ in range(12):
                seq += 1
                events.append(attempt(seq) if seq % 5 else door(seq))
            raw = json.loads(dump(EventBatch(gate=name, sent_at=1.0, events=events)))
            if n % 7 == 0:
                raw["events"][3]["kind"] = "teleport"     # quarantined alone
            ingest(db, [Incoming(topics.gate_events(name), json.dumps(raw).encode(),
                                 time.time())], policy, HANDLERS)
        db.close()

    threads = [threading.Thread(target=gate, args=(g,)) for g in ("gate-a", "gate-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db = compound.db
    rows = feed(db)
    stored = {r["id"] for r in db.query("select id from gate_events")}
    assert len(stored) == 2 * 40 * 12 - 2 * 6           # 6 batches of each broke one event
    assert [c for c, _ in rows] == list(range(1, len(stored) + 1))
    assert {e for _, e in rows} == stored
    assert district_feed.last_cseq(db) == len(stored)


def test_the_migration_numbers_the_events_stored_before_it(compound):
    db, policy = setup(compound)
    first = [attempt(i) for i in range(1, 4)]
    ingest(db, [batch("gate-a", *first)], policy, HANDLERS)
    # A database from before the feed: no table, no trigger, the migration not recorded.
    db.execute("drop trigger district_feed_append")
    db.execute("drop table district_feed")
    db.execute("delete from _sqlite_migrations where name = 'm009_district_link'")
    db.execute("drop table district_orders")
    later = [attempt(i) for i in range(4, 6)]
    ingest(db, [batch("gate-b", *later)], policy, HANDLERS)
    again = schema.open_db(compound.home.hub_db)
    assert feed(again) == [(i + 1, e.id) for i, e in enumerate(first + later)]
    ingest(again, [batch("gate-a", attempt(4))], policy, HANDLERS)
    assert [c for c, _ in feed(again)] == [1, 2, 3, 4, 5, 6]


def test_a_feed_event_holds_the_tracing_facts_masked_and_nothing_else(compound):
    db, policy = setup(compound)
    a = attempt(1, name=FULL_NAME, who=FULL_NAME, pass_id="p" * 16, room="302室",
                reasons=["HEALTH_RED", "a free text with a name 欧阳建国"], alert=True,
                phone="13812345678")
    hostile = attempt(2, name="欧阳建国*", household="7-2-302")   # a star does not pass it
    ingest(db, [batch("gate-a", a, hostile, door(3))], policy, HANDLERS)
    events = district_feed.next_events(db, 0, time.time())
    assert [e.cseq for e in events] == [1, 2, 3]
    e = events[0]
    assert e.model_dump() == {
        "cseq": 1, "id": a.id, "gate": "gate-a", "gate_seq": 1, "kind": "attempt",
        "at": a.at, "direction": "in", "outcome": "admit", "person_ref": "ab" * 12,
        "building": "7", "household": "7-2-**2", "name": "欧**国",
        "reasons": ["HEALTH_RED"], "alert": True}
    assert events[1].name == "欧**国"
    assert events[2].kind == "door_forced" and events[2].name is None
    assert events[2].alert is True          # the hub raised an alert for that event
    wire = b"".join(dump(x) for x in events)
    # "302室", not "302": the digits alone turn up in a random event id or the time
    for secret in (FULL_NAME, "13812345678", "302室", "p" * 16, "free text"):
        assert secret.encode() not in wire and json.dumps(secret).encode() not in wire


def test_acks_mark_ranges_and_an_event_purged_before_its_ack_is_not_sent(compound):
    db, policy = setup(compound)
    events = [attempt(i) for i in range(1, 8)]
    ingest(db, [batch("gate-a", *events)], policy, HANDLERS)
    assert district_feed.apply_ack(db, [(1, 2), (5, 5), (9, 3), (0, -4)], 1.0e9) == 3
    assert district_feed.backlog(db) == 4 and district_feed.first_unacked(db) == 3
    db.execute("delete from gate_events where id = ?", [events[2].id])    # cseq 3
    out = district_feed.next_events(db, 0, 2.0e9)
    assert [e.cseq for e in out] == [4, 6, 7]
    assert district_feed.backlog(db) == 3
    # Housekeeping: acked long ago, or whose event retention purged, go; numbers stay.
    db.execute("delete from gate_events where id = ?", [events[6].id])   # cseq 7, unacked
    assert district_feed.forget(db, 1.5e9) == 5                      # 1, 2, 3, 5 and 7
    assert [c for c, _ in feed(db)] == [4, 6]
    ingest(db, [batch("gate-a", attempt(8))], policy, HANDLERS)
    assert [c for c, _ in feed(db)] == [4, 6, 8]


# Orders --------------------------------------------------------------------------

DISTRICT = SigningKey.generate()


def linked(compound, compound_id="c1"):
    district_config.trust(compound.db, "street1", DISTRICT.public_raw)
    district_config.set_compound(compound.db, compound_id)
    return district_config.load(compound.db)


def order(seq, kind=OrderKind.SEAL, building="7", compound="c1", key=DISTRICT, **more):
    o = Order(district="street1", compound=compound, seq=seq, kind=kind, building=building,
              issued_at=time.time(), issued_by="街道 admin", **more)
    return signed_order(o, key)


def desk_of(compound: Compound, cfg) -> OrderDesk:
    return OrderDesk(compound.db, cfg, lambda at: compound.publish(at).version)


def take(desk, *texts, compound="c1"):
    return desk.take(OrderList(district="street1", compound=compound, orders=list(texts)),
                     time.time())


def bundle_of(compound):
    return unseal(compound.home.hub_bundle.read_bytes(), compound.hub_trusted_key())


def test_an_order_seals_a_building_in_a_new_bundle_as_the_office_would(compound):
    cfg = linked(compound)
    before = bundle_of(compound).version
    [report] = take(desk_of(compound, cfg), order(1))
    assert report.status is ReportStatus.APPLIED and report.seq == 1
    b = bundle_of(compound)
    assert b.version == before + 1 == report.bundle_version
    assert b.buildings["7"].value == "sealed"
    [ev] = compound.db.query("select actor, status_to from building_events")
    assert ev == {"actor": "district:street1", "status_to": "sealed"}
    [row] = compound.db.query("select actor, role, action, target from audit")
    assert row == {"actor": "district:street1", "role": "district",
                   "action": "building.status", "target": "7"}
    st = compound_status(compound.db, "c1", time.time())
    assert st.order_seq == 1 and st.buildings == {"7": "sealed"}
    assert st.bundle_version == b.version


def test_orders_apply_in_seq_order_and_never_one_at_or_below_the_last(compound):
    cfg = linked(compound)
    desk = desk_of(compound, cfg)
    reports = take(desk, order(3, OrderKind.REOPEN), order(2, OrderKind.CONTROL))
    assert [(r.seq, r.status) for r in reports] == [(2, ReportStatus.APPLIED),
                                                    (3, ReportStatus.APPLIED)]
    assert bundle_of(compound).buildings.get("7") is None or \
        bundle_of(compound).buildings["7"].value == "normal"
    [stale] = take(desk, order(1))          # older than one applied: never applied
    assert stale.status is ReportStatus.STALE and stale.seq == 1
    assert [r["status_to"] for r in compound.db.query(
        "select status_to from building_events order by id")] == ["controlled", "normal"]


def test_an_order_seen_again_after_a_restart_is_answered_not_applied_twice(compound):
    cfg = linked(compound)
    [first] = take(desk_of(compound, cfg), order(1))
    bundles = compound.db["bundles"].count
    # A restart (a new desk on a new connection), and the district sends it again.
    again = Compound.open(compound.home)
    [second] = take(desk_of(again, district_config.load(again.db)), order(1))
    assert second == first
    assert again.db["bundles"].count == bundles
    assert again.db["building_events"].count == 1


def test_a_kill_between_the_change_and_its_bundle_publishes_it_on_restart(compound):
    cfg = linked(compound)

    def killed(at):
        raise SystemExit("killed")          # the process dies before signing the bundle
    with pytest.raises(SystemExit):
        take(OrderDesk(compound.db, cfg, killed), order(1))
    assert compound.db["building_events"].count == 1
    assert bundle_of(compound).buildings.get("7") is None
    assert compound.db.execute("select value from meta where key = ?",
                               [BUNDLE_DUE]).fetchone()[0] == "1"
    desk = desk_of(compound, cfg)
    [report] = take(desk, order(1))      # sent again (or the link's start): signed now
    assert bundle_of(compound).buildings["7"].value == "sealed"
    assert report.status is ReportStatus.APPLIED
    assert compound.db.execute("select value from meta where key = ?",
                               [BUNDLE_DUE]).fetchone()[0] == "0"
    assert compound.db["building_events"].count == 1


def test_forged_other_compound_and_bad_orders_are_refused_and_reported(compound):
    cfg = linked(compound)
    desk = desk_of(compound, cfg)
    before = compound.db["bundles"].count
    forger = SigningKey.generate()
    reports = take(desk, order(1, key=forger), order(2, compound="c2"),
                   order(3, building=None), order(4, OrderKind.POLICY, building=None,
                                                  policy={"timezone": "Mars/Olympus"}),
                   "bm90IGFuIG9yZGVy")
    got = [(r.seq, r.status) for r in reports]
    assert got == [(0, ReportStatus.REFUSED)] * 3 + [(3, ReportStatus.REFUSED),
                                                     (4, ReportStatus.REFUSED)]
    assert "not signed by district street1" in reports[0].reason
    assert "claims seq 1" in reports[0].reason
    assert "for compound c2" in reports[1].reason
    assert "building" in reports[3].reason and "timezone" in reports[4].reason
    assert compound.db["bundles"].count == before
    assert compound.db["building_events"].count == 0
    kinds = [r["kind"] for r in compound.db.query("select kind from alerts")]
    assert kinds == ["district_order_forged"] * 2          # the forgery and the junk
    forged = order(1, key=forger)
    take(desk, forged)
    take(desk, forged)                                      # the same blob again: once
    assert compound.db["alerts"].count == 3
    # A refused order does not hold back the next one.
    [ok] = take(desk, order(5))
    assert ok.status is ReportStatus.APPLIED


def test_a_policy_template_becomes_the_compounds_own_next_version(compound):
    cfg = linked(compound)
    current = bundle_of(compound).policy
    template = {**current.to_json(), "version": 999}
    template.pop("timezone")
    template["health"] = {**template["health"], "yellow": "refuse"}
    [report] = take(desk_of(compound, cfg), order(1, OrderKind.POLICY, building=None,
                                                  policy=template))
    assert report.status is ReportStatus.APPLIED, report.reason
    policy = bundle_of(compound).policy
    assert policy.version == current.version + 1 == report.policy_version
    assert policy.timezone == current.timezone
    assert compound.db.execute("select actor from policies order by version desc"
                               ).fetchone()[0] == "district:street1"


def test_an_unlinked_or_untrusting_hub_refuses_every_order(compound):
    district_config.set_compound(compound.db, "c1")
    cfg = district_config.load(compound.db)
    [r] = take(desk_of(compound, cfg), order(1))
    assert r.status is ReportStatus.REFUSED and "trusts no district key" in r.reason
    with pytest.raises(ValueError):
        district_config.set_compound(compound.db, "c.1")


# The command line ------------------------------------------------------------------

def test_hub_district_trust_link_and_status(compound, tmp_path):
    from click.testing import CliRunner

    from hub.cli import main
    from hub.compound import public_pem
    pem = tmp_path / "district.pub"
    pem.write_bytes(public_pem(DISTRICT))
    home = str(compound.home.root)
    run = CliRunner().invoke
    out = run(main, ["district", "trust", "--home", home, "--id", "street1", "--key", str(pem)])
    assert out.exit_code == 0, out.output
    assert DISTRICT.kid.hex() in out.output
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    assert run(main, ["district", "trust", "--home", home, "--id", "s", "--key",
                      str(bad)]).exit_code != 0
    assert run(main, ["district", "link", "--home", home, "--compound-id", "c.1",
                      "--district", "127.0.0.1:4222", "--password", "pw"]).exit_code != 0
    out = run(main, ["district", "link", "--home", home, "--compound-id", "c1",
                     "--district", "127.0.0.1:4222", "--password", "pw"])
    assert out.exit_code == 0, out.output
    conf = (compound.home.hub_broker / "conf.d" / "bridge-c1.conf").read_text()
    assert "try_private false" in conf and "topic hub/district/# out 1" in conf
    assert "gate/+/events" not in conf
    db = schema.open_db(compound.home.hub_db)
    db["gates"].insert({"id": "gate-a", "name": "gate-a"})
    ingest(db, [batch("gate-a", attempt(1), attempt(2))], compound.build_bundle(1, 0).policy,
           HANDLERS)
    district_feed.apply_ack(db, [(1, 1)], 1.7e9)
    out = run(main, ["district", "status", "--home", home])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert {k: doc[k] for k in ("district", "compound", "link", "feed_last", "backlog",
                                "last_ack_at", "last_order_applied")} == {
        "district": "street1", "compound": "c1", "link": "down", "feed_last": 2,
        "backlog": 1, "last_ack_at": 1.7e9, "last_order_applied": 0}
    assert [r["action"] for r in db.query("select action from audit order by id")] == \
        ["district.trust", "district.link"]
