"""Tracing across compounds (district/tracing.py) on a real PostgreSQL with the contract's
partitioned `events` table: the timeline spans compounds, co-presence finds who was at
the same gate or building within ±N minutes and nobody outside it, the retention bounds
every look-up, and the queries use the indexes and the window's partitions."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from district import schema, tracing
from gatehouse.identity import person_ref

pytest_plugins = ["tests.district_fixtures"]
ZONE = "Asia/Shanghai"          # the template database's zone (tests/district_fixtures.py)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo(ZONE)).timestamp()

REF_A, REF_B, REF_C, REF_D, REF_E = (f"{i:x}" * 24 for i in (10, 11, 12, 13, 14))
T = NOW - 3 * 86400            # three days ago: inside every window


def event(conn, compound, gate, at, ref, building=None, name="张*丰", household="7-2-**2",
          outcome="admit", kind="attempt", alert=False):
    """One row as the district's ingest stores a FeedEvent."""
    conn.execute(
        "insert into events (compound, event_id, cseq, gate, gate_seq, kind, at, direction, "
        "outcome, person_ref, building, household, name, reasons, alert) values "
        "(%s, %s, 1, %s, 1, %s, %s, 'in', %s, %s, %s, %s, %s, %s, %s)",
        [compound, uuid.uuid4().hex, gate, kind, datetime.fromtimestamp(at, UTC), outcome,
         ref, building, household, name, ["HEALTH_RED"] if alert else [], alert])


@pytest.fixture
def db(district_dsn):
    """The test's database, rows as dicts, with day partitions around NOW."""
    with psycopg.connect(district_dsn, autocommit=True, row_factory=dict_row) as conn:
        first = datetime.fromtimestamp(NOW, ZoneInfo(ZONE)).date() - timedelta(days=40)
        schema.ensure_partitions(conn, [first + timedelta(days=d) for d in range(42)],
                                 ZoneInfo(ZONE))
        yield conn


@pytest.fixture
def street(db):
    """Person A at c1's north gate, then at c2's east gate two hours later; B beside A at
    c2 (10 min), C at c2's gate 40 min after A; D in A's building of c1 by another gate
    (5 min); E at c1's north gate, but on another day; A once more, 20 days ago."""
    c = db
    event(c, "c1", "north", T, REF_A, building="7")
    event(c, "c2", "east", T + 7200, REF_A, building="3")
    event(c, "c2", "east", T + 7200 + 600, REF_B, building="5", name="李*")
    event(c, "c2", "east", T + 7200 + 2400, REF_C, building="5")
    event(c, "c1", "south", T + 300, REF_D, building="7", household="7-1-**1")
    event(c, "c1", "north", T + 86400, REF_E)
    event(c, "c1", "north", NOW - 20 * 86400, REF_A, building="7")
    event(c, "c1", "north", NOW - 20 * 86400 + 60, REF_C)
    return c


def test_the_timeline_spans_every_compound_within_the_window(street):
    rows = tracing.timeline(street, REF_A, tracing.Window.last_days(NOW, 14, 30))
    assert [(r["compound"], r["gate"]) for r in rows] == [("c1", "north"), ("c2", "east")]
    longer = tracing.timeline(street, REF_A, tracing.Window.last_days(NOW, 28, 30))
    assert len(longer) == 3


def test_retention_bounds_every_look_up(street):
    """Days asked beyond the retention are cut to it (the purge may lag by a day)."""
    window = tracing.Window.last_days(NOW, 28, 14)
    assert len(tracing.timeline(street, REF_A, window)) == 2
    assert all(r["at"] > NOW - 14 * 86400 for r in tracing.co_presence(street, REF_A, window, 240))


def test_co_presence_finds_the_other_compounds_contact_within_n_minutes_only(street):
    window = tracing.Window.last_days(NOW, 14, 30)
    rows = tracing.co_presence(street, REF_A, window, 15)
    found = {(r["person_ref"], r["compound"], r["via"]) for r in rows}
    assert found == {(REF_B, "c2", "gate"), (REF_D, "c1", "building")}
    b = next(r for r in rows if r["person_ref"] == REF_B)
    assert b["minutes_apart"] == 10.0 and b["near_at"] == T + 7200 and b["name"] == "李*"
    wider = {r["person_ref"] for r in tracing.co_presence(street, REF_A, window, 45)}
    assert wider == {REF_B, REF_C, REF_D}          # C 40 min after, E a day later: never


def test_what_a_compound_sent_unmasked_is_masked_here(street):
    event(street, "c2", "east", T + 7200 + 60, REF_E, name="王小明", household="3-1-402")
    rows = tracing.co_presence(street, REF_A, tracing.Window.last_days(NOW, 14, 30), 2)
    assert [(r["name"], r["household"], r["person"]) for r in rows] == \
        [("王*明", "3-1-**2", REF_E[:6] + "…")]
    assert tracing.unmasked(rows)[0]["person"] == REF_E


def test_an_id_number_is_a_reference_only_with_the_binding_key():
    key = b"k" * 32
    assert tracing.ref_of("110101199003074477", key) == person_ref(key, "110101199003074477").hex()
    assert tracing.ref_of(REF_A.upper(), None) == REF_A
    with pytest.raises(ValueError, match="binding key"):
        tracing.ref_of("110101199003074477", None)


def _plan(conn, sql: str, args: dict) -> tuple[set[str], set[str], str]:
    """(indexes' column lists, relations, the whole plan) of EXPLAIN's JSON."""
    plan = conn.execute("explain (format json) " + sql, args).fetchone()["QUERY PLAN"]
    names, relations = set(), set()

    def walk(node):
        if "Index Name" in node:
            names.add(node["Index Name"])
        if "Relation Name" in node:
            relations.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)
    walk(plan[0]["Plan"])
    defs = {r["indexname"]: r["indexdef"].rsplit("(", 1)[1].rstrip(")") for r in
            conn.execute("select indexname, indexdef from pg_indexes where tablename like "
                         "'events%%'")}
    return {defs[n] for n in names}, relations, json.dumps(plan)


def test_the_queries_use_the_indexes_and_only_the_windows_partitions(db):
    """A filled table (generate_series: 20 compounds x 400 events a day over 16 days)
    and fresh statistics: the plans go through the contract's indexes, touch no
    partition outside the window, and scan no partition whole. Timings: bench/district."""
    c = db
    start = NOW - 16 * 86400
    c.execute(
        "insert into events (compound, event_id, cseq, gate, gate_seq, kind, at, direction, "
        "outcome, person_ref, building, household, name, reasons, alert) "
        "select 'k' || (i %% 20), md5(i::text), i, 'g' || (i %% 3), i, 'attempt', "
        "to_timestamp(%(start)s + (i::float8 / %(n)s) * 16 * 86400), 'in', 'admit', "
        "substr(md5('p' || (i %% 6000)::text), 1, 24), (i %% 90)::text, '1-1-**1', '张*', "
        "'{}', false from generate_series(1, %(n)s) i",
        {"start": start, "n": 20 * 400 * 16})
    c.execute("analyze events")
    ref = c.execute("select substr(md5('p1'), 1, 24) as r").fetchone()["r"]
    window = tracing.Window.last_days(NOW, 14, 30)
    args = {"ref": ref, **window.bounds(), "span": timedelta(minutes=15), "limit": 100,
            "lo": window.bounds()["start"] - timedelta(minutes=15),
            "hi": window.bounds()["end"] + timedelta(minutes=15)}
    zone = ZoneInfo(ZONE)
    first = datetime.fromtimestamp(window.start - 900, zone).date()
    last = datetime.fromtimestamp(window.end + 900, zone).date()
    inside = {f"events_{first + timedelta(days=d):%Y%m%d}" for d in range((last - first).days + 1)}
    timeline = _plan(c, tracing._TIMELINE, args)
    co = _plan(c, tracing._CO_PRESENCE, args)
    assert timeline[0] == {"person_ref, at"}
    assert co[0] == {"person_ref, at", "compound, gate, at", "compound, building, at"}
    for indexes, relations, text in (timeline, co):
        assert relations and relations <= inside, relations - inside
        assert '"Seq Scan"' not in text
    assert len(tracing.co_presence(c, ref, window, 15)) > 0
