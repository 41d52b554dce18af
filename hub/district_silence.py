"""A district link that is up but silent: feed sent, no FeedAck back.

The bridge may be up while nothing comes down it: nats-server refused the bridge's
`down/#` subscription (seen after a node of three was killed) and Mosquitto never asks
again until the bridge reconnects. The compound then gets no acks and no orders, and
its feed piles up, with the bridge saying 1. The uplink (hub/district_uplink.py) counts
from the moment it began waiting for an ack; after `silent_s` with feed pending it raises
one `district_silent` alert and `hub district status` says `silent`; the next FeedAck
of this compound clears both (the alert is acknowledged by `district-link`, kept in the
log)."""
from __future__ import annotations

import sqlite_utils

from gatehouse.db import write_transaction
from hub import alert_log, district_feed, meta
from hub.alert_kinds import AlertKind

SILENT_META = "district.silent"     # "<since>" while silent, "" otherwise
CLEARED_BY = "district-link"


def silent_since(db: sqlite_utils.Database) -> float | None:
    value = meta.get_meta(db, SILENT_META) or ""
    return float(value) if value else None


def declare(db: sqlite_utils.Database, waiting_since: float, now: float) -> None:
    """The link is silent since `waiting_since`: one open alert, however often called
    (a restarted hub finds the open one)."""
    if silent_since(db) is not None:
        return
    with write_transaction(db):
        _set(db, f"{waiting_since:.3f}")
        if not db.execute("select 1 from alerts where kind = ? and acked_at is null",
                          [AlertKind.DISTRICT_SILENT.value]).fetchone():
            alert_log.add_alert(db, now, "district", AlertKind.DISTRICT_SILENT,
                                f"district_silent:{int(waiting_since)}",
                                {"since": round(waiting_since, 3),
                                 "backlog": district_feed.backlog(db),
                                 "first_unacked": district_feed.first_unacked(db)})


def clear(db: sqlite_utils.Database, now: float) -> bool:
    """An ack came: not silent any more; the open alert acknowledged. True if it was."""
    if silent_since(db) is None:
        return False
    with write_transaction(db):
        _set(db, "")
        db.execute("update alerts set acked_at = ?, acked_by = ?, note = ? where kind = ? "
                   "and acked_at is null",
                   [now, CLEARED_BY, "the district's acks came again",
                    AlertKind.DISTRICT_SILENT.value])
    return True


def _set(db: sqlite_utils.Database, value: str) -> None:
    # Plain SQL: sqlite_utils' upsert commits on its own, inside this transaction too.
    db.execute("insert into meta (key, value) values (?, ?) on conflict (key) do update "
               "set value = excluded.value", [SILENT_META, value])
