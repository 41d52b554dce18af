"""The notification outbox's tables (hub/notify.py): their own migration set, listed in
hub/schema.py."""
from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("gatehouse.hub.notify")


@migrations()
def m001_notifications(db: sqlite_utils.Database) -> None:
    db["notifications"].create({
        "id": int, "key": str, "kind": str, "household": str, "building": str,
        "recipient": str, "body": str, "state": str, "attempts": int, "next_try": float,
        "last_error": str, "created_at": float, "sent_at": float, "channel": str}, pk="id")
    db["notifications"].create_index(["state", "next_try"])
    db["notifications"].create_index(["key", "state"])
    # Append-only: every change of a row, each try's error included.
    db["notification_events"].create({"id": int, "notification": int, "state_from": str,
                                       "state_to": str, "at": float, "actor": str,
                                       "detail": str}, pk="id")
    db["notification_events"].create_index(["notification"])
