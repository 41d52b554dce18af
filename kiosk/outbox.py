"""The outbox: every attempt and event the hub has not acknowledged yet, in one gap-free
gate sequence (docs/mqtt.md).

The attempt log appends a row in the same transaction as the attempt or event it
carries (kiosk/attempt_log.py); the hub link reads what is pending and marks what the
hub has committed. Rows leave only with the retention purge, and only once acknowledged.
"""
from __future__ import annotations

import json

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.events import Event, EventKind


class Outbox:
    """The `outbox` table of the gate's log (the connection is the log's)."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def next_seq(self) -> int:
        """The sequence number of the next row; call inside the writing transaction."""
        return (next(self.db.query("select max(seq) as s from outbox"))["s"] or 0) + 1

    def append(self, seq: int, event_id: str, kind: EventKind, payload: dict,
               at: float) -> None:
        """One row for the hub; the caller holds the transaction that writes its source."""
        self.db["outbox"].insert({"seq": seq, "id": event_id, "kind": kind.value,
                                  "payload": json.dumps(payload, ensure_ascii=False),
                                  "created_at": at, "acked_at": None})

    def pending(self, after_seq: int, limit: int) -> list[Event]:
        """Unacknowledged rows after `after_seq`, oldest first."""
        rows = self.db.execute(
            "select seq, id, kind, payload, created_at from outbox "
            "where acked_at is null and seq > ? order by seq limit ?", [after_seq, limit])
        return [Event(seq=r[0], id=r[1], kind=r[2], at=r[4], payload=json.loads(r[3]))
                for r in rows.fetchall()]

    def mark_acked(self, ranges: list[tuple[int, int]], at: float) -> int:
        """Mark rows the hub has committed; returns how many were newly acknowledged."""
        done = 0
        with write_transaction(self.db):
            for first, last in ranges:
                done += self.db.execute(
                    "update outbox set acked_at = ? where seq between ? and ? "
                    "and acked_at is null", [at, first, last]).rowcount
        return done

    def backlog(self) -> int:
        """Rows the hub has not acknowledged yet."""
        return self.db.execute("select count(*) from outbox where acked_at is null").fetchone()[0]

    def last_seq(self) -> int:
        return self.db.execute("select coalesce(max(seq), 0) from outbox").fetchone()[0]
