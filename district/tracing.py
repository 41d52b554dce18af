"""Tracing (流调) across every compound of the district: a person's timeline, and who was
at the same gate or the same building of the same compound within ±N minutes.

A person is their `person_ref`: the same keyed hash in every compound, because the
issuers share the binding key. The district holds only what a compound's feed carries
(masked names and households), and shows it masked again here, since an older or
broken hub could send more than it should.

Every query bounds `at` by constants (the window), so PostgreSQL prunes the day
partitions at plan time, and reaches rows through the contract's indexes:
(person_ref, at) for the timeline, (compound, gate, at) and (compound, building, at)
for co-presence. docs/district.md "Tracing across compounds" has the plans.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg.rows import dict_row

from gatehouse.identity import person_ref
from gatehouse.privacy import at_most_two_letters, mask_household, mask_name

DAY = 86400
TRACE_DAYS = 14
MAX_DAYS = 28
MAX_MINUTES = 240
MAX_ROWS = 10_000                # co-presence rows kept (a crowded gate over 28 days)
REF = re.compile(r"^[0-9a-f]{24}$")
TIMELINE_FIELDS = ["at", "compound", "gate", "building", "kind", "direction", "outcome",
                   "name", "household", "reasons", "alert", "person"]
CONTACT_FIELDS = ["at", "compound", "gate", "building", "via", "near_at", "minutes_apart",
                  "direction", "outcome", "name", "household", "person"]

_COLUMNS = ("e.compound, e.event_id, e.gate, e.building, e.kind, e.direction, e.outcome, "
            "e.person_ref, e.name, e.household, e.reasons, e.alert, "
            "extract(epoch from e.at)::float8 as at")

_TIMELINE = f"""
select {_COLUMNS} from events e
where e.person_ref = %(ref)s and e.at >= %(start)s and e.at < %(end)s
order by e.at, e.compound, e.event_id
"""

# One statement: the person's events (few, materialized once), then for each of them an
# index range scan on (compound, gate, at) and one on (compound, building, at). The
# LATERAL ... LIMIT keeps those scans per event (a plain join of small day partitions
# may be planned as a hash join over whole partitions); the per-event `at` range prunes
# the day partitions at run time, the outer bounds [lo, hi) at plan time.
_NEAR = """
  select {columns}, extract(epoch from m.at)::float8 as near_at, '{via}' as via
  from mine m cross join lateral (
    select * from events e
    where e.compound = m.compound and e.{via} = m.{via}
      and e.at between m.at - %(span)s and m.at + %(span)s
      and e.at >= %(lo)s and e.at < %(hi)s
    limit %(limit)s
  ) e
  where m.{via} is not null
"""
_CO_PRESENCE = f"""
with mine as materialized (
  select compound, gate, building, at from events
  where person_ref = %(ref)s and at >= %(start)s and at < %(end)s
), near as (
{_NEAR.format(columns=_COLUMNS, via="gate")}
  union all
{_NEAR.format(columns=_COLUMNS, via="building")}
)
select * from (
  select distinct on (compound, event_id) * from near
  where person_ref is distinct from %(ref)s
  order by compound, event_id, abs(at - near_at), via desc
) closest
order by at, compound, event_id
limit %(limit)s
"""

_EVENT_REF = """
select person_ref from events
where compound = %(compound)s and event_id = %(event_id)s and at >= %(start)s and at < %(end)s
limit 1
"""


@dataclass(frozen=True)
class Window:
    """[start, end) in epoch seconds: the days asked for, never before the retention."""

    start: float
    end: float

    @classmethod
    def last_days(cls, now: float, days: int, retention_days: int) -> Window:
        days = min(max(int(days), 1), MAX_DAYS)
        return cls(now - min(days, retention_days) * DAY, now + 1)

    def bounds(self) -> dict[str, datetime]:
        return {"start": _ts(self.start), "end": _ts(self.end)}


def _ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def ref_of(text: str, binding_key: bytes | None) -> str:
    """A person reference from what the page was given: a reference (24 hex), or an ID
    number when the district holds a copy of the binding key. ValueError says why not."""
    text = text.strip()
    if REF.match(text.lower()):
        return text.lower()
    if binding_key is None:
        raise ValueError("no binding key at this district: give a person reference")
    return person_ref(binding_key, text).hex()


def timeline(conn, ref: str, window: Window) -> list[dict]:
    """Every event of one person in the window, in every compound, oldest first."""
    return [_shown(r) for r in _rows(conn, _TIMELINE, {"ref": ref, **window.bounds()})]


def co_presence(conn, ref: str, window: Window, minutes: int) -> list[dict]:
    """Other people's events at the same gate, or the same building, of the same compound
    within ±minutes of one of this person's events; each event once (its nearest match)."""
    span = min(max(int(minutes), 1), MAX_MINUTES) * 60
    args = {"ref": ref, **window.bounds(), "span": timedelta(seconds=span), "limit": MAX_ROWS,
            "lo": _ts(window.start - span), "hi": _ts(window.end + span)}
    out = []
    for r in _rows(conn, _CO_PRESENCE, args):
        r = _shown(r)
        r["minutes_apart"] = round(abs(r["at"] - r["near_at"]) / 60, 1)
        out.append(r)
    return out


def ref_of_event(conn, compound: str, event_id: str, window: Window) -> str | None:
    """The person of one event shown in the window (to trace a contact in turn without
    the page ever showing their reference)."""
    rows = _rows(conn, _EVENT_REF, {"compound": compound, "event_id": event_id,
                                    **window.bounds()})
    return rows[0]["person_ref"] if rows else None


def _rows(conn, sql: str, args: dict) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, args).fetchall()


def _shown(row: dict) -> dict:
    """A row as every page and export shows it: masked name and household, the reasons
    as one text, the person as a short reference (`unmask` puts the whole one back)."""
    row = dict(row)
    # An older hub's feed may carry a spaced name whole (docs/security.md D10).
    row["name"] = at_most_two_letters(mask_name(row.get("name")))
    row["household"] = mask_household(row.get("household"))
    row["reasons"] = " ".join(row.get("reasons") or [])
    row["person"] = short_ref(row.get("person_ref"))
    return row


def short_ref(ref: str | None) -> str:
    """The first 6 characters: enough to tell rows apart on a page, not to look up."""
    return f"{ref[:6]}…" if ref else ""


def unmasked(rows: list[dict]) -> list[dict]:
    """The same rows with whole person references (an admin's audited action)."""
    return [{**r, "person": r.get("person_ref") or ""} for r in rows]
