"""The hub's small named values (the `meta` table): the compound's name, cursors of
the alert senders, the district link's state."""
from __future__ import annotations

import sqlite_utils


def get_meta(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    rows = list(db.query("select value from meta where key = ?", [key]))
    return rows[0]["value"] if rows else default


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db["meta"].upsert({"key": key, "value": value}, pk="key")
