"""The hub's core state in SQLite: policies, buildings, alerts and meta, each change in
one transaction. The schema and its migrations are hub/schema.py."""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.policy.model import BuildingStatus, Policy
from hub.alert_kinds import AlertKind

def add_alert(db: sqlite_utils.Database, at: float, gate: str, kind: AlertKind,
              event_id: str | None, detail: dict) -> None:
    """One alert for the office; the same (event, kind) raised again is kept once.
    Only an AlertKind: a kind with no label would reach the office as a bare word."""
    db.execute("insert or ignore into alerts (at, gate, kind, event_id, detail) "
               "values (?, ?, ?, ?, ?)",
               [at, gate, AlertKind(kind).value, event_id,
                json.dumps(detail, ensure_ascii=False)])


def get_meta(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    rows = list(db.query("select value from meta where key = ?", [key]))
    return rows[0]["value"] if rows else default


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db["meta"].upsert({"key": key, "value": value}, pk="key")


def current_policy(db: sqlite_utils.Database) -> Policy:
    row = next(db.query("select doc from policies order by version desc limit 1"), None)
    return Policy.from_json(json.loads(row["doc"])) if row else Policy()


def compound_zone(db: sqlite_utils.Database) -> ZoneInfo:
    """The compound's time zone from the current policy, without validating the whole
    policy (placing each parcel needs the day; the policy was checked when it was saved)."""
    row = db.execute("select json_extract(doc, '$.timezone') from policies "
                     "order by version desc limit 1").fetchone()
    return ZoneInfo(row[0]) if row and row[0] else Policy().zone


def policy_version(db: sqlite_utils.Database, version: int) -> Policy | None:
    row = next(db.query("select doc from policies where version = ?", [version]), None)
    return Policy.from_json(json.loads(row["doc"])) if row else None


def save_policy(db: sqlite_utils.Database, policy: Policy, at: int, actor: str,
                note: str = "") -> Policy:
    """Store a policy as the next version (the version number is the hub's to give)."""
    with write_transaction(db):
        last = next(db.query("select max(version) as v from policies"))["v"] or 0
        policy = policy.model_copy(update={"version": last + 1})
        Policy.from_json(policy.to_json())  # re-validate after the update
        db["policies"].insert({"version": policy.version, "doc": json.dumps(policy.to_json()),
                               "created_at": at, "actor": actor, "note": note})
    return policy


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
