"""How much one gate may make the hub store in a day (docs/security.md).

A gate's MQTT login can publish as much as it likes to its own topics: 300 junk
messages of 100 KiB once grew hub.db by 21 MB. Each gate has a daily budget for
stored events and for quarantined rubbish. Past it nothing more from that gate is
written — and nothing is acknowledged, so a real gate keeps its events in its own
outbox and sends them again later: nothing a gate really logged is lost. The office
gets one alert per gate and day.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from hub.alert_kinds import AlertKind
from hub.alert_log import add_alert

DAY_S = 86400


@dataclass(frozen=True)
class GateQuota:
    """Per gate and UTC day; a real gate logs ~1-2 MB of events on a busy day."""

    event_bytes: int = 64 * 1024 * 1024       # days of backlog after a long offline spell fit
    quarantine_bytes: int = 2 * 1024 * 1024
    quarantine_rows: int = 2000


def _row(db, gate: str, at: float) -> tuple[int, dict]:
    day = int(at // DAY_S)
    row = next(db.query("select * from gate_usage where gate = ? and day = ?", [gate, day]),
               None)
    return day, row or {"event_bytes": 0, "quarantine_bytes": 0, "quarantined": 0}


def _add(db, gate: str, day: int, **counts: int) -> None:
    cols = ", ".join(counts)
    sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in counts)
    db.execute(f"insert into gate_usage (gate, day, {cols}) values (?, ?, "
               f"{', '.join('?' * len(counts))}) on conflict (gate, day) do update set {sets}",
               [gate, day, *counts.values()])


def _over(db, gate: str, day: int, at: float, what: str, limit: int) -> bool:
    """Count the refusal; alert the office once per gate, day and kind of budget."""
    _add(db, gate, day, refused=1)
    add_alert(db, at, gate, AlertKind.GATE_QUOTA, f"quota:{what}:{gate}:{day}",
              {"budget": what, "limit": limit})
    return False


def take_events(db, gate: str, at: float, size: int, quota: GateQuota) -> bool:
    """Whether `size` more bytes of events from `gate` may be stored today (counted if so)."""
    day, row = _row(db, gate, at)
    if row["event_bytes"] + size > quota.event_bytes:
        return _over(db, gate, day, at, "events", quota.event_bytes)
    _add(db, gate, day, event_bytes=size)
    return True


def take_quarantine(db, gate: str | None, at: float, size: int, quota: GateQuota) -> bool:
    """Whether one more quarantined message of `size` bytes may be kept (counted if so)."""
    gate = gate or "?"
    day, row = _row(db, gate, at)
    if row["quarantined"] + 1 > quota.quarantine_rows or \
            row["quarantine_bytes"] + size > quota.quarantine_bytes:
        return _over(db, gate, day, at, "quarantine", quota.quarantine_bytes)
    _add(db, gate, day, quarantine_bytes=size, quarantined=1)
    return True
