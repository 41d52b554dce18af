"""The daily report (日报) for the street office: one local day of the compound in counts.

Entries, exits, refusals by reason, referrals, parcels in and out, alerts: per gate and
per building. The day is the compound's local day, midnight to midnight in the policy's
zone: gatehouse/days.py, as the overview's "today". Counts only: no names, no
households, so the report can be printed and sent on as it is.

Passages carry their final outcome (a volunteer's decision on a referral rewrites it);
a referral is counted from the attempt the gate sent, so a referral the volunteer then
admitted is also an entry (or exit), and one refused is also a refusal.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from gatehouse.days import day_bounds
from gatehouse.policy import Reason
from hub.alert_kinds import label_of

COLUMNS = ("entries", "exits", "refusals", "referrals", "parcels_in", "parcels_out", "alerts")
HEADINGS = {"entries": "进 Entries", "exits": "出 Exits", "refusals": "拒绝 Refusals",
            "referrals": "转人工 Referrals", "parcels_in": "快递入 Parcels in",
            "parcels_out": "快递出 Parcels out", "alerts": "告警 Alerts"}
NO_BUILDING = ""           # visitors, couriers, codes of no household
DOOR_RUNS = "door-runs"    # parcels carried to sealed buildings: no gate hands them out

# Short labels of the reasons, for a report's table (the gate's texts have parameters).
REASON_LABELS: dict[Reason, str] = {
    Reason.MISSING_CODE: "缺码 Code missing",
    Reason.HEALTH_RED: "红码 Red health code",
    Reason.HEALTH_YELLOW: "黄码 Yellow health code",
    Reason.TEST_TOO_OLD: "核酸超时 Test too old",
    Reason.TEST_MISSING: "无核酸 No test",
    Reason.VACCINATION_INCOMPLETE: "疫苗未达标 Vaccination",
    Reason.ITINERARY_STAR: "行程带星 Itinerary star",
    Reason.PASS_REVOKED: "出入证已注销 Pass revoked",
    Reason.BUILDING_SEALED: "楼栋封控 Building sealed",
    Reason.BUILDING_CONTROLLED: "楼栋管控 Building controlled",
    Reason.BUILDING_RESTRICTED: "楼栋防范 Building restricted",
    Reason.QUOTA_USED: "出门次数用完 Quota used",
    Reason.OUTSIDE_HOURS: "非外出时段 Outside hours",
    Reason.OUT_TOO_LONG: "外出超时 Out too long",
    Reason.PASSBACK: "重复进出 Passback",
    Reason.NOT_SAME_PERSON: "非同一人 Not the same person",
    Reason.SIGNATURE_BAD: "伪造或篡改 Forged code",
    Reason.ISSUER_UNTRUSTED: "发码方不受信任 Untrusted issuer",
    Reason.CODE_INVALID: "码已损坏 Damaged code",
    Reason.CODE_UNRECOGNISED: "无法识别 Unrecognised code",
    Reason.EXPIRED: "已过期 Expired",
    Reason.NOT_YET_VALID: "未生效 Not yet valid",
    Reason.CLOCK_UNTRUSTED: "门岗时间未校准 Clock untrusted",
    Reason.DATA_STALE: "门岗数据过旧 Data stale",
    Reason.VISITOR_CHECK: "访客需登记 Visitor check",
    Reason.COURIER_NO_ENTRY: "快递员不得入内 Courier no entry",
}


def reason_label(reason: str) -> str:
    """A stored reason's label; one this hub does not know (a newer gate's) as it is."""
    try:
        return REASON_LABELS[Reason(reason)]
    except ValueError:
        return reason or "志愿者拒绝 Refused by a volunteer"


@dataclass
class DailyReport:
    """One day's counts; rows are dicts with a key (`gate` or `building`) and COLUMNS."""

    day: date
    start: float
    end: float
    totals: dict[str, int]
    per_gate: list[dict]
    per_building: list[dict]
    refusal_reasons: list[dict]            # reason, label, count (a refusal may have several)
    referral_outcomes: dict[str, int]      # admitted, refused, open
    parcels: dict[str, int]                # received, picked_up, delivered, returned
    alert_kinds: list[dict] = field(default_factory=list)   # kind, label, count


def build(db: sqlite_utils.Database, day: date, zone: ZoneInfo) -> DailyReport:
    """Count the day from the hub's tables (passages, gate events, parcels, alerts)."""
    start, end = day_bounds(day, zone)
    gates: dict[str, Counter] = {}
    buildings: dict[str, Counter] = {}

    def add(gate: str | None, building: str | None, key: str, n: int = 1) -> None:
        if gate is not None:
            gates.setdefault(gate, Counter())[key] += n
        if building is not None:
            buildings.setdefault(building, Counter())[key] += n

    reasons: Counter = Counter()
    referred: Counter = Counter()
    for r in db.query(
            "select p.gate, p.building, p.direction, p.outcome, p.reasons, "
            "json_extract(e.payload, '$.outcome') as first from passages p "
            "left join gate_events e on e.id = p.event_id where p.at >= ? and p.at < ?",
            [start, end]):
        b = r["building"] or NO_BUILDING
        if r["outcome"] == "admit" and r["direction"] in ("in", "out"):
            add(r["gate"], b, "entries" if r["direction"] == "in" else "exits")
        elif r["outcome"] == "refuse":
            add(r["gate"], b, "refusals")
            for reason in json.loads(r["reasons"] or "[]") or [""]:
                reasons[reason] += 1
        if (r["first"] or r["outcome"]) == "refer":
            add(r["gate"], b, "referrals")
            referred[{"admit": "admitted", "refuse": "refused"}.get(r["outcome"], "open")] += 1

    parcels: Counter = Counter()
    for r in db.query("select gate, building from parcels where received_at >= ? and "
                      "received_at < ? and state != 'voided'", [start, end]):
        add(r["gate"] or "", r["building"] or NO_BUILDING, "parcels_in")
        parcels["received"] += 1
    for r in db.query(
            "select e.state_to, e.place, p.building from parcel_events e join parcels p "
            "on p.id = e.parcel where e.state_to in ('picked_up', 'delivered', 'returned') "
            "and e.at >= ? and e.at < ?", [start, end]):
        parcels[r["state_to"]] += 1
        if r["state_to"] != "returned":   # back to the courier: not handed to a household
            add(r["place"] if r["state_to"] == "picked_up" else DOOR_RUNS,
                r["building"] or NO_BUILDING, "parcels_out")

    kinds: Counter = Counter()
    for r in db.query("select a.gate, a.kind, p.event_id as passage, p.building from alerts a "
                      "left join passages p on p.event_id = a.event_id "
                      "where a.at >= ? and a.at < ?", [start, end]):
        kinds[r["kind"]] += 1
        # a building only for an attempt's alert (a forced door has none)
        add(r["gate"] or "", (r["building"] or NO_BUILDING) if r["passage"] else None, "alerts")

    known = [g["id"] for g in db.query("select id from gates where retired_at is null")]
    for g in known:
        gates.setdefault(g, Counter())
    totals = {k: sum(c[k] for c in gates.values()) for k in COLUMNS}
    return DailyReport(
        day=day, start=start, end=end, totals=totals,
        per_gate=[{"gate": g, **{k: gates[g][k] for k in COLUMNS}}
                  for g in sorted(gates, key=lambda g: (g not in known, g))],
        per_building=[{"building": b, **{k: buildings[b][k] for k in COLUMNS}}
                      for b in sorted(buildings, key=_building_order)],
        refusal_reasons=[{"reason": k, "label": reason_label(k), "count": n}
                         for k, n in reasons.most_common()],
        referral_outcomes={k: referred[k] for k in ("admitted", "refused", "open")},
        parcels={k: parcels[k] for k in ("received", "picked_up", "delivered", "returned")},
        alert_kinds=[{"kind": k, "label": label_of(k), "count": n}
                     for k, n in kinds.most_common()])


def _building_order(b: str) -> tuple:
    """Building 9 before 10, letters after numbers, "no building" last."""
    return (b == NO_BUILDING, not b.isdigit(), int(b) if b.isdigit() else 0, b)


def daily_totals(db: sqlite_utils.Database, last: date, days: int,
                 zone: ZoneInfo) -> list[dict]:
    """Entries, exits, refusals and referrals of each of `days` local days up to `last`,
    with the overview's definitions (final outcomes), for the 7- and 30-day charts."""
    out = []
    for i in range(days - 1, -1, -1):
        day = last - timedelta(days=i)
        start, end = day_bounds(day, zone)
        row = next(db.query(
            "select sum(outcome = 'admit' and direction = 'in') as entries, "
            "sum(outcome = 'admit' and direction = 'out') as exits, "
            "sum(outcome = 'refuse') as refusals, sum(outcome = 'refer') as referrals "
            "from passages where at >= ? and at < ?", [start, end]))
        out.append({"day": day, **{k: row[k] or 0 for k in
                                   ("entries", "exits", "refusals", "referrals")}})
    return out
