"""The daily report (日报): its numbers are the events', counted another way.

A day of gate traffic around the clock (and an hour either side of it), volunteers'
decisions on referrals, forced doors, parcels dropped off, undone and picked up, all
sent through the hub's real ingest into a real SQLite file; the test then counts the
stored gate events itself and compares with the report, its page and its .xlsx."""
from __future__ import annotations

import io
import json
import random
import uuid
from collections import Counter, defaultdict
from datetime import date

import openpyxl
import pytest

from gatehouse import days, topics
from gatehouse.events import Event, EventBatch, dump
from gatehouse.policy import Reason
from hub import report
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.parcels.shelving import Shelf, define_shelf
from hub.policy_versions import current_policy
from tests.conftest import HOUR, ZONE
from tests.test_hub_web_app import (  # noqa: F401  (fixtures)
    NOW,
    app,
    as_user,
    web_config,
)

DAY = date(2026, 11, 23)            # the tests' Monday; NOW is its noon
START, END = days.day_bounds(DAY, ZONE)
REASONS = [Reason.HEALTH_RED, Reason.HEALTH_YELLOW, Reason.TEST_TOO_OLD, Reason.PASSBACK,
           Reason.BUILDING_SEALED, Reason.ITINERARY_STAR, Reason.SIGNATURE_BAD]
GATES = ("north", "south")
DESK = "desk"                       # the parcel area's kiosk


class Gates:
    """Sends what gates send, through the hub's ingest, each gate counting its events."""

    def __init__(self, compound):
        self.compound, self.seq = compound, Counter()

    def send(self, gate: str, events: list[tuple[str, float, dict]]) -> None:
        evs = []
        for kind, at, payload in events:
            self.seq[gate] += 1
            evs.append(Event(seq=self.seq[gate], id=uuid.uuid4().hex, kind=kind, at=at,
                             payload=payload))
        msg = Incoming(topics.gate_events(gate),
                       dump(EventBatch(gate=gate, sent_at=NOW, events=evs)), NOW)
        result = ingest(self.compound.db, [msg], current_policy(self.compound.db), event_handlers())
        assert result.stored == len(evs)


@pytest.fixture
def day(compound, web_config):  # noqa: F811 (after its users and gate)
    """A filled day: ~400 attempts, overrides, door alarms, 60 parcels, 30 pickups."""
    db = compound.db
    for g in GATES:
        db["gates"].upsert({"id": g, "name": f"{g}门", "added_at": START, "online": 1,
                            "role": "gate"}, pk="id")   # web_config has north already
    db["gates"].insert({"id": DESK, "name": "快递区", "added_at": START, "online": 1,
                        "role": "parcels"})
    define_shelf(db, Shelf("A", "公共", 10, 50, False, ()))
    rng, gates = random.Random(14), Gates(compound)
    per_gate: dict[str, list] = defaultdict(list)
    referred = []
    for _ in range(400):
        at = rng.uniform(START - HOUR, END + HOUR)
        gate = rng.choice(GATES)
        outcome = rng.choices(["admit", "refuse", "refer"], [6, 2, 2])[0]
        resident = rng.random() < 0.8
        building = str(rng.randint(1, 12)) if resident else None
        reasons = [r.value for r in rng.sample(REASONS, rng.randint(1, 2))] \
            if outcome != "admit" else []
        payload = {"direction": rng.choice(["in", "out"]), "outcome": outcome,
                   "who": "resident" if resident else "visitor",
                   "household": f"{building}-1-{rng.randint(1, 30)}01" if resident else None,
                   "building": building, "name": "张*", "reasons": reasons,
                   "policy_version": 1, "alert": Reason.HEALTH_RED.value in reasons}
        per_gate[gate].append(("attempt", at, payload))
        if outcome == "refer":
            referred.append((gate, at, len(per_gate[gate]) - 1))
    for g in GATES:
        per_gate[g].sort(key=lambda e: e[1])
        for _ in range(3):
            per_gate[g].append(("door_forced", rng.uniform(START, END), {}))
    for g in GATES:
        gates.send(g, per_gate[g])
    # Volunteers decide on about half the referrals (an override names the attempt's id).
    ids = {(r["gate"], r["at"]): r["id"] for r in db.query(
        "select id, gate, at from gate_events where kind = 'attempt'")}
    for gate, at, _ in rng.sample(referred, len(referred) // 2):
        gates.send(gate, [("override", at + 20, {"attempt_id": ids[(gate, at)],
                                                 "outcome": rng.choice(["admit", "refuse"]),
                                                 "by": "v001"})])
    # Parcels dropped off from the evening before to the evening after; some undone.
    parcels = []
    for i in range(60):
        gate, at = rng.choice(GATES), rng.uniform(START - 6 * HOUR, END + HOUR)
        b = str(rng.randint(1, 12))
        pid = uuid.uuid4().hex
        gates.send(gate, [("parcel", at, {"id": pid, "waybill": f"SF{1000000000000 + i}",
                                          "room": f"{b}-1-{rng.randint(1, 30)}01",
                                          "courier": "赵*"})])
        if i % 10 == 3:
            gates.send(gate, [("parcel_void", at + 60, {"parcel": pid, "by": "v001"})])
        else:
            parcels.append((pid, f"SF{1000000000000 + i}", at))
    # Picked up at the parcel area 3-20 h later (after their hold: no early alerts).
    for pid, waybill, at in rng.sample(parcels, 30):
        gates.send(DESK, [("pickup", at + rng.uniform(3, 20) * HOUR,
                           {"outcome": "taken", "parcel": pid, "waybill": waybill,
                            "via": "code"})])
    return compound


def counted_from_events(db) -> dict:
    """The day's numbers from the stored gate events alone (not the hub's derived tables)."""
    events = [{**r, "payload": json.loads(r["payload"])} for r in db.query(
        "select id, gate, kind, at, payload from gate_events order by gate, seq")]
    decided = {e["payload"]["attempt_id"]: e["payload"]["outcome"] for e in events
               if e["kind"] == "override"}
    voided = {e["payload"]["parcel"] for e in events if e["kind"] == "parcel_void"}
    rooms = {e["payload"]["id"]: e["payload"]["room"].split("-")[0] for e in events
             if e["kind"] == "parcel"}
    gate, building, reasons = defaultdict(Counter), defaultdict(Counter), Counter()
    referral_outcomes = Counter()

    def add(g, b, key):
        gate[g][key] += 1
        if b is not None:
            building[b][key] += 1

    for e in events:
        p, inside = e["payload"], START <= e["at"] < END
        if not inside:
            continue
        if e["kind"] == "attempt":
            final = decided.get(e["id"], p["outcome"])
            b = p["building"] or ""
            if final == "admit":
                add(e["gate"], b, "entries" if p["direction"] == "in" else "exits")
            elif final == "refuse":
                add(e["gate"], b, "refusals")
                reasons.update(p["reasons"])
            if p["outcome"] == "refer":
                add(e["gate"], b, "referrals")
                referral_outcomes[{"admit": "admitted", "refuse": "refused"}.get(
                    final, "open")] += 1
            if p["alert"]:
                add(e["gate"], b, "alerts")
        elif e["kind"] in ("door_forced", "door_held"):
            add(e["gate"], None, "alerts")
        elif e["kind"] == "parcel" and p["id"] not in voided:
            add(e["gate"], rooms[p["id"]], "parcels_in")
        elif e["kind"] == "pickup" and p["outcome"] == "taken":
            add(e["gate"], rooms[p["parcel"]], "parcels_out")
    return {"gate": gate, "building": building, "reasons": reasons,
            "referral_outcomes": referral_outcomes}


def nonzero(rows: list[dict], key: str) -> dict[str, dict]:
    return {r[key]: {k: r[k] for k in report.COLUMNS if r[k]} for r in rows
            if any(r[k] for k in report.COLUMNS)}


def test_the_reports_numbers_are_the_events_counted_directly(day):
    r = report.build(day.db, DAY, ZONE)
    want = counted_from_events(day.db)
    assert nonzero(r.per_gate, "gate") == {g: dict(c) for g, c in want["gate"].items()}
    assert nonzero(r.per_building, "building") == {b: dict(c) for b, c in
                                                   want["building"].items()}
    assert {x["reason"]: x["count"] for x in r.refusal_reasons} == dict(want["reasons"])
    assert r.referral_outcomes == {k: want["referral_outcomes"][k]
                                   for k in ("admitted", "refused", "open")}
    for k in report.COLUMNS:
        assert r.totals[k] == sum(c[k] for c in want["gate"].values()), k
    # Enough of everything for the comparison to mean something.
    assert min(r.totals.values()) >= 5 and r.referral_outcomes["open"] > 0
    assert r.parcels["picked_up"] == r.totals["parcels_out"]
    assert r.parcels["received"] == r.totals["parcels_in"]
    # The day is midnight to midnight, compound time: the hour either side is left out.
    assert day.db.execute("select count(*) from passages where at < ? or at >= ?",
                          [START, END]).fetchone()[0] > 0


def test_today_on_the_report_is_today_on_the_overview(day, as_user):
    client = as_user("observer")
    over = client.get("/api/overview").get_json()
    r = report.build(day.db, DAY, ZONE)
    for k in ("entries", "exits", "refusals"):
        assert over["totals"][k] == r.totals[k], k
    assert over["totals"]["referrals"] == r.referral_outcomes["open"]


def test_the_page_and_the_xlsx_show_the_same_numbers_behind_login(day, app, as_user):
    stranger = app.test_client()
    for url in ("/report/", "/report/day.xlsx", "/report/chart.svg?days=7"):
        resp = stranger.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    r = report.build(day.db, DAY, ZONE)
    client = as_user("lead")
    page = client.get("/report/?day=2026-11-23").get_data(as_text=True)
    for k in report.COLUMNS:
        assert f'<b data-total="{k}">{r.totals[k]}</b>' in page, k
    assert client.get("/report/").get_data(as_text=True) == page    # today by default
    assert "张" not in page                          # counts only, no names

    resp = client.get("/report/day.xlsx?day=2026-11-23")
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    wb = openpyxl.load_workbook(io.BytesIO(resp.get_data()))
    summary = {row[0]: row[1] for row in wb.worksheets[0].iter_rows(min_row=2, values_only=True)}
    for k in report.COLUMNS:
        assert summary[report.HEADINGS[k]] == r.totals[k], k
    gates = {row[0]: row for row in wb["门岗 Gates"].iter_rows(min_row=2, values_only=True)}
    assert gates["north"][2:] == tuple(next(g for g in r.per_gate if g["gate"] == "north")[k]
                                       for k in report.COLUMNS)
    buildings = [row[0] for row in wb["楼栋 Buildings"].iter_rows(min_row=2, values_only=True)]
    assert buildings[:3] == ["1", "2", "3"] and "10" in buildings   # text, in building order
    assert client.get("/report/?day=23-11-2026").status_code == 400


def test_seven_and_thirty_day_charts(day, as_user):
    client = as_user("observer")
    week = client.get("/report/chart.svg?days=7&day=2026-11-24").get_data(as_text=True)
    assert week.startswith("<svg") and "11/24" in week and "11/18" in week
    entries = report.daily_totals(day.db, DAY, 7, ZONE)[-1]["entries"]
    assert f"2026-11-23 进 entries {entries}</title>" in week
    month = client.get("/report/chart.svg?days=30").get_data(as_text=True)
    assert "10/25" in month and "11/23" in month
    assert client.get("/report/chart.svg?days=365").status_code == 400
    overview = client.get("/").get_data(as_text=True)
    assert "/report/chart.svg?days=7" in overview and "/report/chart.svg?days=30" in overview
