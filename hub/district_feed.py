"""The compound's feed to its district: its gate events in its own gap-free sequence,
reduced to what tracing needs and masked (gatehouse/district_wire.py FeedEvent).

The `district_feed` table (hub/schema.py m009) gets a row, by trigger, in the very
transaction that stores a gate event; a row stays until the district's FeedAck covers
its `cseq`. Nothing else of an event leaves the compound: no full names, phones, rooms,
pass ids or free text.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from gatehouse.db import write_transaction
from gatehouse.district_wire import MAX_FEED_EVENTS, FeedEvent
from gatehouse.privacy import at_most_two_letters, mask_household, mask_name

log = logging.getLogger(__name__)
_REF = re.compile(r"^[0-9a-f]{24}$")
_REASON = re.compile(r"^[A-Za-z0-9_:.-]{1,40}$")   # a reason code, never free text
# A name already masked at issue: its first letter, stars, maybe its last (张*丰, J*** S****).
_MASKED = re.compile(r"^(\S\*+\S?)( \S\*+)*$")


def masked_name(name: Any) -> str | None:
    """A name as it may leave the compound: masked again unless it has the masked shape
    (a gate's payload could carry anything, a '*' in it included)."""
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip()
    masked = name if _MASKED.match(name) else mask_name(name.replace("*", ""))
    return at_most_two_letters(masked)[:64] or None   # D10


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def feed_event(cseq: int, row: dict) -> FeedEvent:
    """One stored gate event (joined with its passage, if an attempt) as it leaves."""
    try:
        payload = json.loads(row["payload"] or "{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    attempt = row["p_event"] is not None

    def pick(key: str):  # the passage's column (as the hub derived it), else the payload's
        value = row.get(f"p_{key}") if attempt else None
        return payload.get(key) if value is None else value

    reasons = pick("reasons")
    if isinstance(reasons, str):
        try:
            reasons = json.loads(reasons)
        except ValueError:
            reasons = []
    ref = pick("person_ref")
    household = _text(pick("household"), 40)
    return FeedEvent(
        cseq=cseq, id=row["id"], gate=row["gate"], gate_seq=row["seq"], kind=row["kind"],
        at=row["at"], direction=_text(pick("direction"), 10),
        outcome=_text(pick("outcome"), 20),
        person_ref=ref if isinstance(ref, str) and _REF.match(ref) else None,
        building=_text(pick("building"), 40),
        household=mask_household(household)[:40] or None if household else None,
        name=masked_name(pick("name")),
        reasons=[r for r in reasons if isinstance(r, str) and _REASON.match(r)][:20]
        if isinstance(reasons, list) else [],
        alert=bool(payload.get("alert") is True or row["alerted"]))


_ROWS = """
select f.cseq, e.id, e.gate, e.seq, e.kind, e.at, e.payload,
       p.event_id as p_event, p.direction as p_direction, p.outcome as p_outcome,
       p.person_ref as p_person_ref, p.building as p_building, p.household as p_household,
       p.name as p_name, p.reasons as p_reasons,
       exists(select 1 from alerts a where a.event_id = e.id) as alerted
from district_feed f
left join gate_events e on e.id = f.event_id
left join passages p on p.event_id = e.id
where f.cseq > ? and f.acked_at is null
order by f.cseq limit ?"""


def next_events(db: sqlite_utils.Database, after: int, at: float,
                limit: int = MAX_FEED_EVENTS) -> list[FeedEvent]:
    """The next unacknowledged events after `cseq` `after`, oldest first.

    One whose gate event is gone (purged by retention before the district took it) or
    cannot be expressed on the wire is marked done here and logged: the district sees a
    hole in the compound's sequence, which is the truth."""
    out: list[FeedEvent] = []
    lost: list[int] = []
    for row in db.query(_ROWS, [after, limit]):
        if row["id"] is None:
            lost.append(row["cseq"])
            continue
        try:
            out.append(feed_event(row["cseq"], row))
        except ValidationError as exc:
            log.warning("feed event %s (%s) cannot leave: %s", row["cseq"], row["id"],
                        exc.errors()[0]["msg"])
            lost.append(row["cseq"])
    if lost:
        log.warning("feed: %d event(s) gone before the district took them (first cseq %d)",
                    len(lost), lost[0])
        with write_transaction(db):
            db.conn.executemany("update district_feed set acked_at = ? where cseq = ?",
                                [(at, c) for c in lost])
    return out


def apply_ack(db: sqlite_utils.Database, ranges: list[tuple[int, int]], at: float) -> int:
    """Mark the `cseq` ranges the district committed; returns how many were newly acked."""
    done = 0
    with write_transaction(db):
        for first, last in ranges:
            if first > last or last < 1:
                continue
            done += db.conn.execute(
                "update district_feed set acked_at = ? where cseq between ? and ? "
                "and acked_at is null", [at, max(first, 1), last]).rowcount
    return done


def first_unacked(db: sqlite_utils.Database) -> int | None:
    return db.execute("select min(cseq) from district_feed where acked_at is null").fetchone()[0]


def unacked_between(db: sqlite_utils.Database, first: int, last: int) -> int:
    return db.execute("select count(*) from district_feed where acked_at is null and "
                      "cseq between ? and ?", [first, last]).fetchone()[0]


def backlog(db: sqlite_utils.Database) -> int:
    return db.execute("select count(*) from district_feed where acked_at is null").fetchone()[0]


def last_cseq(db: sqlite_utils.Database) -> int:
    row = db.execute("select seq from sqlite_sequence where name = 'district_feed'").fetchone()
    return row[0] if row else 0


def last_acked_at(db: sqlite_utils.Database) -> float | None:
    return db.execute("select max(acked_at) from district_feed").fetchone()[0]


def forget(db: sqlite_utils.Database, acked_before: float) -> int:
    """Drop feed rows acknowledged before `acked_before`, and those whose gate event the
    retention purge has deleted (they can never be sent; a compound never linked would
    otherwise keep a row per event for ever). Their numbers are never given again."""
    with write_transaction(db):
        return db.conn.execute(
            "delete from district_feed where (acked_at is not null and acked_at < ?) or "
            "not exists (select 1 from gate_events e where e.id = district_feed.event_id)",
            [acked_before]).rowcount
