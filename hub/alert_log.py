"""The office's alerts as the hub raises them (the `alerts` table; delivered by
hub/alert_delivery.py, labelled by hub/alert_kinds.py)."""
from __future__ import annotations

import json

import sqlite_utils

from hub.alert_kinds import AlertKind


def add_alert(db: sqlite_utils.Database, at: float, gate: str, kind: AlertKind,
              event_id: str | None, detail: dict) -> None:
    """One alert for the office; the same (event, kind) raised again is kept once.
    Only an AlertKind: a kind with no label would reach the office as a bare word."""
    db.execute("insert or ignore into alerts (at, gate, kind, event_id, detail) "
               "values (?, ?, ?, ?, ?)",
               [at, gate, AlertKind(kind).value, event_id,
                json.dumps(detail, ensure_ascii=False)])
