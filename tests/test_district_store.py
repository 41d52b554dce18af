"""The district store: migrations, day partitions, idempotent ingest, gaps, quarantine."""
from __future__ import annotations

import threading
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from district import schema
from district.db import connect
from district.ingest import Incoming, gaps, store
from gatehouse.district_wire import CompoundStatus, FeedBatch, FeedEvent
from gatehouse.events import dump

pytest_plugins = ["tests.district_fixtures"]

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=ZONE).timestamp()


def event(cseq: int, at: float = T0, **kw) -> FeedEvent:
    return FeedEvent(cseq=cseq, id=kw.pop("id", uuid.uuid4().hex), gate="gate-1",
                     gate_seq=cseq, kind="attempt", at=at + cseq, direction="in",
                     outcome="admit", person_ref="ab" * 12, building="7", **kw)


def feed(cid: str, events: list[FeedEvent]) -> Incoming:
    return Incoming(f"district.{cid}.gatehouse.hub.district.feed",
                    dump(FeedBatch(compound=cid, sent_at=T0, events=events)), T0)


def count(conn, sql: str = "select count(*) from events", *args) -> int:
    return conn.execute(sql, list(args)).fetchone()[0]


def test_migrations_are_applied_once(district_db):
    assert schema.migrate(district_db) == []
    assert count(district_db, "select count(*) from schema_migrations") == \
        len(schema.MIGRATIONS)


def test_a_batch_sent_twice_is_stored_once_and_acked_twice(district_db):
    events = [event(i) for i in range(1, 6)]
    first = store(district_db, [feed("c1", events)], ZONE)
    again = store(district_db, [feed("c1", events), feed("c1", events[:2])], ZONE)
    assert (first.stored, first.duplicates) == (5, 0)
    assert (again.stored, again.duplicates) == (0, 7)
    assert again.ack_ranges() == {"c1": [(1, 5)]}
    assert count(district_db) == 5
    row = district_db.execute("select reasons, alert, building from events "
                              "where cseq = 1").fetchone()
    assert row == ([], False, "7")
    assert district_db.execute("select last_event_at from compounds where id = 'c1'"
                               ).fetchone()[0].timestamp() == T0 + 5


def test_each_day_of_the_district_zone_is_its_own_partition(district_db):
    # 23:30 and 00:30 local on the night of the 23rd: two days, two partitions.
    late = datetime(2026, 11, 23, 23, 30, tzinfo=ZONE).timestamp()
    store(district_db, [feed("c1", [event(1, late - 1), event(2, late + 3600 - 2)])], ZONE)
    parts = schema.day_partitions(district_db)
    assert sorted(parts.values()) == [date(2026, 11, 23), date(2026, 11, 24)]
    assert count(district_db, "select count(*) from events_20261123") == 1
    assert count(district_db, "select count(*) from events_20261124") == 1


def test_two_workers_racing_for_a_new_day_both_succeed(district_dsn):
    days = [date(2026, 12, d) for d in range(1, 11)]
    barrier, errors, made = threading.Barrier(4), [], []

    def worker() -> None:
        with connect(district_dsn) as conn:
            barrier.wait()
            try:
                made.extend(schema.ensure_partitions(conn, days, ZONE))
            except Exception as exc:  # noqa: BLE001 (the test reports it)
                errors.append(exc)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(made) == [schema.partition_name(d) for d in days]   # each made once


def test_gaps_are_the_holes_between_received_ranges(district_db):
    store(district_db, [feed("c1", [event(i) for i in (1, 2, 3, 7, 8)])], ZONE)
    store(district_db, [feed("c1", [event(i) for i in (12, 4)])], ZONE)
    store(district_db, [feed("c2", [event(i) for i in (3, 4)])], ZONE)
    assert gaps(district_db, "c1") == [(5, 6), (9, 11)]
    assert gaps(district_db, "c2") == [(1, 2)]
    store(district_db, [feed("c1", [event(i) for i in (5, 6, 9, 10, 11)])], ZONE)
    assert gaps(district_db, "c1") == []
    assert district_db.execute("select first, last from compound_ranges where "
                               "compound = 'c1'").fetchall() == [(1, 12)]


def test_a_broken_message_is_quarantined_and_the_rest_goes_in(district_db):
    good = feed("c1", [event(1), event(2)])
    broken = Incoming("district.c1.gatehouse.hub.district.feed", b"{not json", T0)
    other = feed("c2", [event(1)])   # c2's batch on c1's subject
    other = Incoming(broken.subject, other.data, T0)
    half = feed("c3", [event(1), event(2)])
    half = Incoming(half.subject, half.data.replace(b'"cseq":2', b'"cseq":"two"'), T0)
    result = store(district_db, [good, broken, other, half], ZONE)
    assert (result.stored, result.quarantined) == (3, 3)
    reasons = [r[0] for r in district_db.execute("select reason from quarantine order by id")]
    assert reasons[0].startswith("not JSON")
    assert "names compound 'c2'" in reasons[1]
    assert "cseq" in reasons[2]
    assert result.ack_ranges() == {"c1": [(1, 2)], "c3": [(1, 1)]}


def test_a_status_is_kept_with_the_broker_time(district_db):
    status = CompoundStatus(compound="c1", name="一号小区", at=T0, bundle_version=3,
                            policy_version=2, backlog=4)
    msg = Incoming("district.c1.gatehouse.hub.district.status", dump(status), T0 + 5)
    assert store(district_db, [msg], ZONE).statuses == 1
    name, doc, last = district_db.execute(
        "select name, status, last_status_at from compounds where id = 'c1'").fetchone()
    assert (name, doc["backlog"], last.timestamp()) == ("一号小区", 4, T0 + 5)


def test_an_event_dated_in_the_future_is_set_aside_not_partitioned(district_db):
    ahead = T0 + 30 * 86400   # a gate whose clock is a month ahead
    result = store(district_db, [feed("c1", [event(1), event(2, ahead)])], ZONE)
    assert (result.stored, result.quarantined) == (1, 1)
    assert result.ack_ranges() == {"c1": [(1, 2)]}   # kept aside: the hub may stop sending
    assert sorted(schema.day_partitions(district_db)) == ["events_20261123"]
    assert "more than a day after" in district_db.execute(
        "select reason from quarantine").fetchone()[0]


def test_a_value_postgresql_cannot_hold_sets_aside_that_event_only(district_db):
    events = [event(1), event(2, name="张\x00三"), event(3)]
    result = store(district_db, [feed("c1", events)], ZONE)
    assert (result.stored, result.quarantined) == (2, 1)
    assert result.ack_ranges() == {"c1": [(1, 3)]}
    assert [r[0] for r in district_db.execute("select cseq from events order by cseq")] == \
        [1, 3]
    assert "event 2: could not store" in district_db.execute(
        "select reason from quarantine").fetchone()[0]


def test_numbers_beyond_bigint_and_deep_nesting_are_set_aside(district_db):
    big = feed("c1", [event(1)]).data.replace(b'"cseq":1,', b'"cseq":9223372036854775808,')
    deep = b'{"v":1,"compound":"c1","sent_at":1,"events":[' + b"[" * 100_000 + \
        b"]" * 100_000 + b"]}"
    sub = "district.c1.gatehouse.hub.district.feed"
    good = feed("c2", [event(1), event(2)])
    result = store(district_db, [Incoming(sub, big, T0), Incoming(sub, deep, T0), good],
                   ZONE)
    assert (result.stored, result.quarantined) == (2, 2)
    assert result.ack_ranges() == {"c2": [(1, 2)]}   # no cseq beyond bigint acked
    assert gaps(district_db, "c2") == []


def test_a_compounds_junk_fills_only_its_own_quarantine_budget(district_db):
    from district.ingest import QUARANTINE_BUDGET_BYTES
    sub = "district.{}.gatehouse.hub.district.feed"
    junk = [Incoming(sub.format("c2"), b"x" * 100 * 1024, T0 + i) for i in range(40)]
    result = store(district_db, [*junk, Incoming(sub.format("c1"), b"not json", T0)], ZONE)
    kept = dict(district_db.execute("select compound, sum(length(payload)) from quarantine "
                                    "group by compound").fetchall())
    assert kept["c1"] == len(b"not json")   # c2's junk did not use up c1's budget
    assert kept["c2"] <= QUARANTINE_BUDGET_BYTES
    assert result.quarantined + result.over_budget == 41 and result.over_budget > 20
    assert district_db.execute("select messages from quarantine_overflow where "
                               "compound = 'c2'").fetchone()[0] == result.over_budget
