"""Each building's status (normal, controlled, sealed) and its append-only history
(the `buildings` and `building_events` tables)."""
from __future__ import annotations

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.policy.model import BuildingStatus

# Every status may follow every other: the office seals and unseals at any hour.
ALLOWED_STATUS_CHANGES = {(a, b) for a in BuildingStatus for b in BuildingStatus if a != b}


def building_statuses(db: sqlite_utils.Database) -> dict[str, BuildingStatus]:
    return {r["id"]: BuildingStatus(r["status"]) for r in db["buildings"].rows}


def building_status_at(db: sqlite_utils.Database, building: str | None,
                       at: float) -> BuildingStatus:
    """A building's status at a past moment, from its append-only history."""
    if not building:
        return BuildingStatus.NORMAL
    ev = next(db.query("select status_to from building_events where building = ? and at <= ? "
                       "order by at desc, id desc limit 1", [building, at]), None)
    return BuildingStatus(ev["status_to"]) if ev else BuildingStatus.NORMAL


def set_building_status(db: sqlite_utils.Database, building: str, status: BuildingStatus,
                        at: int, actor: str, note: str = "") -> bool:
    """Change a building's status: row and event in one transaction. False if unchanged."""
    with write_transaction(db):
        row = next(db.query("select status from buildings where id = ?", [building]), None)
        before = BuildingStatus(row["status"]) if row else BuildingStatus.NORMAL
        if (before, status) not in ALLOWED_STATUS_CHANGES:
            return False
        db["buildings"].upsert({"id": building, "status": status.value, "changed_at": at},
                               pk="id")
        db["building_events"].insert({"building": building, "status_from": before.value,
                                      "status_to": status.value, "at": at, "actor": actor,
                                      "note": note})
    return True
