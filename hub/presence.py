"""Who is inside or out, and the tracing (流调) queries, from the passages the gates sent.

A person's state is their last admitted passage after their last presence reset:
`in` means inside, `out` means out since then. Times are the gates' own (`at`).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from gatehouse.db import write_transaction

DAY = 86400
TRACE_DAYS = 14
TIMELINE_FIELDS = ["at", "gate", "direction", "outcome", "who", "name", "household",
                   "building", "reasons", "policy_version"]
CONTACT_FIELDS = ["at", "gate", "direction", "outcome", "who", "name", "household",
                  "near_at", "minutes_apart"]
VISITOR_FIELDS = ["at", "gate", "direction", "outcome", "name", "household", "source"]

_STATE = """
with last as (
  select p.*, row_number() over (partition by p.person_ref order by p.at desc, p.event_id desc)
         as n
  from passages p
  where p.outcome = 'admit' and p.person_ref is not null and p.direction in ('in', 'out')
    and p.at > coalesce((select max(r.at) from presence_resets r
                         where r.person_ref = p.person_ref), 0)
)
select person_ref, at, gate, direction, who, name, household, building, event_id
from last where n = 1
"""


def states(db: sqlite_utils.Database) -> list[dict]:
    """Everyone's last admitted passage since their last reset."""
    return list(db.query(_STATE))


def inside_now(db: sqlite_utils.Database, now: float) -> list[dict]:
    return _with_since([s for s in states(db) if s["direction"] == "in"], now)


def out_now(db: sqlite_utils.Database, now: float) -> list[dict]:
    return _with_since([s for s in states(db) if s["direction"] == "out"], now)


def _with_since(rows: list[dict], now: float) -> list[dict]:
    for r in rows:
        r["since"] = r["at"]
        r["hours"] = round((now - r["at"]) / 3600, 1)
    return sorted(rows, key=lambda r: r["at"])


def out_past(db: sqlite_utils.Database, now: float, hhmm: str, zone: ZoneInfo) -> list[dict]:
    """Residents out now who left before the cut-off hour that has passed (e.g. 22:00).

    Before today's cut-off, the cut-off that counts is yesterday's.
    """
    local = datetime.fromtimestamp(now, zone)
    cut = datetime.combine(local.date(), time.fromisoformat(hhmm), zone)
    if cut > local:
        cut -= timedelta(days=1)
    return [r for r in out_now(db, now) if r["who"] == "resident" and r["at"] < cut.timestamp()]


def reset(db: sqlite_utils.Database, now: float, after_hours: float, actor: str,
          reason: str = "exit never scanned") -> list[dict]:
    """Record a reset for non-residents shown inside for over `after_hours`.

    Visitors and couriers who left by a door that did not scan them would otherwise
    count as inside forever. Residents are left alone: inside is where they live.
    Each reset is a row in presence_resets (an event), never an edit of a passage.
    """
    with write_transaction(db):
        stale = [s for s in states(db) if s["direction"] == "in" and s["who"] != "resident"
                 and now - s["at"] > after_hours * 3600]
        for s in stale:
            db["presence_resets"].insert({"at": now, "person_ref": s["person_ref"],
                                          "household": s["household"],
                                          "last_event_id": s["event_id"], "reason": reason,
                                          "actor": actor})
    return stale


def last_reset(db: sqlite_utils.Database) -> float | None:
    return next(db.query("select max(at) as at from presence_resets"))["at"]


def timeline(db: sqlite_utils.Database, ref: str, start: float, end: float) -> list[dict]:
    """Every passage of one person in the window, refused and referred ones too."""
    return list(db.query("select * from passages where person_ref = ? and at >= ? and at <= ? "
                         "order by at", [ref, start, end]))


def contacts(db: sqlite_utils.Database, ref: str, start: float, end: float,
             minutes: int) -> list[dict]:
    """Everyone else who passed the same gate within ±minutes of one of this person's passages."""
    span = minutes * 60
    rows = db.query(
        "select o.*, p.at as near_at from passages p join passages o "
        "on o.gate = p.gate and o.at between p.at - ? and p.at + ? "
        "and (o.person_ref is null or o.person_ref != p.person_ref) "
        "where p.person_ref = ? and p.at >= ? and p.at <= ? order by o.at",
        [span, span, ref, start, end])
    out, seen = [], set()
    for r in rows:
        if r["event_id"] in seen:
            continue
        seen.add(r["event_id"])
        r["minutes_apart"] = round(abs(r["at"] - r["near_at"]) / 60, 1)
        out.append(r)
    return out


def visitors_seen(db: sqlite_utils.Database, start: float, end: float) -> list[dict]:
    """Visitors by the gates' records, and visitors registered by the office, in the window."""
    rows = [{**r, "source": "gate"} for r in db.query(
        "select * from passages where who = 'visitor' and at >= ? and at <= ? order by at",
        [start, end])]
    rows += [{"at": r["from_at"], "gate": "", "direction": "", "outcome": "registered",
              "name": r["name"], "household": r["host_household"], "source": "registered"}
             for r in db.query("select * from visitors where from_at <= ? and until_at >= ? "
                               "and cancelled_at is null", [end, start])]
    return sorted(rows, key=lambda r: r["at"])


def today_counts(db: sqlite_utils.Database, start: float, end: float) -> dict:
    """Entries, exits, refusals, referrals per gate and per hour of the day."""
    rows = db.query(
        "select gate, cast((at - ?) / 3600 as int) as hour, "
        "sum(outcome = 'admit' and direction = 'in') as entries, "
        "sum(outcome = 'admit' and direction = 'out') as exits, "
        "sum(outcome = 'refuse') as refusals, sum(outcome = 'refer') as referrals "
        "from passages where at >= ? and at < ? group by gate, hour", [start, start, end])
    per_gate: dict[str, dict] = {}
    per_hour = [{"entries": 0, "exits": 0, "refusals": 0, "referrals": 0} for _ in range(24)]
    for r in rows:
        g = per_gate.setdefault(r["gate"], {"entries": 0, "exits": 0, "refusals": 0,
                                            "referrals": 0})
        for k in ("entries", "exits", "refusals", "referrals"):
            g[k] += r[k] or 0
            if 0 <= r["hour"] < 24:
                per_hour[r["hour"]][k] += r[k] or 0
    return {"per_gate": per_gate, "per_hour": per_hour}


def today_counts_gate(db: sqlite_utils.Database, start: float, end: float,
                      gate: str) -> list[dict]:
    """Per hour for one gate (the chart of one gate)."""
    per_hour = [{"entries": 0, "exits": 0, "refusals": 0, "referrals": 0} for _ in range(24)]
    for r in db.query("select at, direction, outcome from passages where gate = ? and at >= ? "
                      "and at < ?", [gate, start, end]):
        h = per_hour[min(23, int((r["at"] - start) // 3600))]
        key = {"refuse": "refusals", "refer": "referrals"}.get(r["outcome"]) or \
            ("entries" if r["direction"] == "in" else "exits")
        h[key] += 1
    return per_hour
