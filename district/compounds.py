"""A compound leaving the district (`district compound remove`), in the database.

Its broker login goes first (district/home.py, the command); here the compound is
marked removed, audited, and its pending orders are withdrawn: never sent, not even if
it is added again (an old seal would close a building on its return).
Its copies of gate events stay until the retention drops their day partitions, like
everyone's: tracing may still need the last 28 days of a compound that just left. The
retention then forgets the compound itself (its row and received ranges) once it has
been removed longer than the retention (`forget_removed`); its orders and the audit
stay on record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Removed:
    compound: str
    known: bool               # the district had heard of it (a row in compounds)
    events: int               # its copies still held, until the retention
    pending_orders: int       # withdrawn, never sent


def remove(conn: psycopg.Connection, cid: str, actor: str, now: float,
           login_removed: bool) -> Removed:
    """Mark `cid` removed (again: the first time is kept) and audit it in one transaction.
    A compound whose login was removed but that never sent anything (added, never
    linked) gets its row here, marked: else an order could still be made for it, pending
    for ever, and the page would never say it left (review R4, session 6)."""
    at = datetime.fromtimestamp(now, UTC)
    with conn.transaction():
        known = conn.execute("update compounds set removed_at = coalesce(removed_at, %s) "
                             "where id = %s", [at, cid]).rowcount > 0
        if not known and login_removed:
            # Its first event may land between the update and here: then it is marked.
            conn.execute("insert into compounds (id, removed_at) values (%s, %s) "
                         "on conflict (id) do update set removed_at = "
                         "coalesce(compounds.removed_at, excluded.removed_at)", [cid, at])
        events = conn.execute("select count(*) from events where compound = %s",
                              [cid]).fetchone()[0]
        pending = conn.execute("update orders set status = 'withdrawn' where compound = %s "
                               "and status = 'pending'", [cid]).rowcount
        conn.execute("insert into audit (at, actor, role, action, target, detail, ip) "
                     "values (%s, %s, 'admin', 'compound.remove', %s, %s, '')",
                     [at, actor, cid, Jsonb({"login_removed": login_removed,
                                             "known": known, "events_kept": events,
                                             "pending_orders": pending})])
    return Removed(cid, known, events, pending)


def restore(conn: psycopg.Connection, cid: str, actor: str, now: float) -> bool:
    """`district compound add` of a removed compound: it belongs again. True if it was
    removed."""
    at = datetime.fromtimestamp(now, UTC)
    with conn.transaction():
        back = conn.execute("update compounds set removed_at = null where id = %s and "
                            "removed_at is not null", [cid]).rowcount > 0
        if back:
            conn.execute("insert into audit (at, actor, role, action, target, detail, ip) "
                         "values (%s, %s, 'admin', 'compound.add', %s, %s, '')",
                         [at, actor, cid, Jsonb({"was_removed": True})])
    return back


def forget_removed(conn: psycopg.Connection, days: int, now: float) -> list[str]:
    """Compounds removed more than `days` ago: their row and received ranges go (their
    events went with the day partitions). The ids forgotten."""
    before = datetime.fromtimestamp(now, UTC) - timedelta(days=days)
    with conn.transaction():
        gone = [r[0] for r in conn.execute(
            "delete from compounds where removed_at < %s returning id", [before])]
        conn.execute("delete from compound_ranges where compound = any(%s)", [gone])
    return sorted(gone)
