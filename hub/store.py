"""The hub's SQLite database: schema, migrations and the one-transaction state changes."""
from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils
from sqlite_utils.migrations import Migrations

from gatehouse.db import write_transaction
from gatehouse.policy.model import BuildingStatus, Policy
from hub.alert_kinds import AlertKind

migrations = Migrations("gatehouse.hub")


@migrations()
def m001_foundation(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["policies"].create({"version": int, "doc": str, "created_at": int, "actor": str,
                           "note": str}, pk="version")
    db["buildings"].create({"id": str, "status": str, "changed_at": int}, pk="id")
    # Append-only: corrections are new rows, never edits.
    db["building_events"].create({"id": int, "building": str, "status_from": str,
                                  "status_to": str, "at": int, "actor": str, "note": str},
                                 pk="id")
    db["issued_codes"].create({
        "id": str, "kind": str, "person_ref": str, "name": str, "building": str,
        "unit": str, "room": str, "household": str, "place": str, "venue_kind": str,
        "company": str, "issued_at": int, "expires_at": int, "revoked_at": int,
        "revoke_note": str}, pk="id")
    db["issued_codes"].create_index(["person_ref"])
    db["issued_codes"].create_index(["household"])
    db["trusted_keys"].create({"kid": str, "name": str, "public_key": str, "kinds": str,
                               "added_at": int, "removed_at": int}, pk="kid")
    db["bundles"].create({"version": int, "issued_at": int, "policy_version": int,
                          "sha256": str}, pk="version")


@migrations()
def m002_sync(db: sqlite_utils.Database) -> None:
    db["gates"].create({"id": str, "name": str, "added_at": int, "retired_at": int,
                        "online": int, "status_at": float, "heartbeat_at": float,
                        "heartbeat": str}, pk="id")
    # What the gates sent, kept as it happened (`at` is the gate's time, not arrival).
    db["gate_events"].create({"id": str, "gate": str, "seq": int, "kind": str, "at": float,
                              "received_at": float, "payload": str}, pk="id")
    db["gate_events"].create_index(["gate", "seq"])
    db["gate_events"].create_index(["kind", "at"])
    db["passages"].create({"event_id": str, "gate": str, "at": float, "direction": str,
                           "outcome": str, "person_ref": str, "pass_id": str,
                           "household": str, "building": str, "name": str, "who": str,
                           "reasons": str, "policy_version": int}, pk="event_id")
    db["passages"].create_index(["person_ref", "at"])
    db["passages"].create_index(["household", "at"])
    db["quarantine"].create({"id": int, "at": float, "topic": str, "gate": str,
                             "reason": str, "payload": bytes}, pk="id")
    db["conflicts"].create({"id": int, "at": float, "kind": str, "person_ref": str,
                            "household": str, "event_ids": str, "detail": str,
                            "resolved_at": float, "resolved_by": str, "note": str}, pk="id")
    db["alerts"].create({"id": int, "at": float, "gate": str, "kind": str, "event_id": str,
                         "detail": str, "acked_at": float, "acked_by": str, "note": str},
                        pk="id")
    db["alerts"].create_index(["event_id", "kind"], unique=True)


@migrations()
def m003_volunteers(db: sqlite_utils.Database) -> None:
    # Gate volunteers: a PIN (hashed) to sign in at a kiosk; leads may do more.
    db["volunteers"].create({"id": str, "name": str, "pin_hash": str, "role": str,
                             "added_at": int, "disabled_at": int}, pk="id")


@migrations()
def m010_web(db: sqlite_utils.Database) -> None:
    # The office's admin page: its users, audit log, residents, printable passes,
    # visitors and presence resets (docs/admin.md).
    db["users"].create({"username": str, "pw_hash": str, "role": str, "created_at": int,
                        "disabled_at": int, "session_gen": int}, pk="username")
    db["login_attempts"].create({"id": int, "at": float, "username": str, "ip": str,
                                 "ok": int}, pk="id")
    db["login_attempts"].create_index(["at"])
    # Append-only: who changed what, when, with the state before and after.
    db["audit"].create({"id": int, "at": float, "actor": str, "role": str, "action": str,
                        "target": str, "before": str, "after": str, "ip": str}, pk="id")
    db["audit"].create_index(["at"])
    db["residents"].create({"id": int, "building": str, "unit": str, "room": str,
                            "household": str, "name": str, "phone": str, "person_ref": str,
                            "id_masked": str, "added_at": int, "updated_at": int}, pk="id")
    db["residents"].create_index(["household"])
    db["residents"].create_index(["person_ref"], unique=True)
    # The signed text of each pass issued from the page, so the office can reprint it.
    db["pass_texts"].create({"pass_id": str, "resident_id": int, "text": str}, pk="pass_id")
    db["visitors"].create({"id": int, "name": str, "phone": str, "host_household": str,
                           "building": str, "from_at": int, "until_at": int, "purpose": str,
                           "created_at": int, "created_by": str, "cancelled_at": int},
                          pk="id")
    db["presence_resets"].create({"id": int, "at": float, "person_ref": str,
                                  "household": str, "last_event_id": str, "reason": str,
                                  "actor": str}, pk="id")
    db["presence_resets"].create_index(["person_ref", "at"])
    db["passages"].create_index(["gate", "at"])
    db["passages"].create_index(["at"])


@migrations()
def m004_roster(db: sqlite_utils.Database) -> None:
    # A second keyed hash of the ID number, for the gates' roster: a volunteer keys an
    # elderly resident's ID at the gate and the kiosk finds the pass (docs/kiosk.md).
    db["issued_codes"].add_column("roster_ref", str)
    db["issued_codes"].create_index(["roster_ref"])


@migrations()
def m005_gate_role(db: sqlite_utils.Database) -> None:
    # "gate" (an entrance) or "parcels" (the pickup kiosk at the shelves): only the
    # latter may read the shelf manifest (the broker's ACL is written from this).
    db["gates"].add_column("role", str)
    db.execute("update gates set role = 'gate'")


@migrations()
def m006_gate_usage(db: sqlite_utils.Database) -> None:
    # What each gate made the hub store, per UTC day (hub/gate_quota.py).
    db["gate_usage"].create({"gate": str, "day": int, "event_bytes": int,
                             "quarantine_bytes": int, "quarantined": int, "refused": int},
                            pk=("gate", "day"), defaults={
                                "event_bytes": 0, "quarantine_bytes": 0, "quarantined": 0,
                                "refused": 0})


@migrations()
def m007_login_device(db: sqlite_utils.Database) -> None:
    # The browser a try came from (hub/logins.py): its own failures are all that slow it.
    db["login_attempts"].add_column("device", str)


def open_db(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the hub database, in WAL mode, migrated to the latest schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.enable_wal()
    db.execute("PRAGMA busy_timeout = 5000")
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    from hub import deploy_store, parcels  # their own sets: enrollment/backups, parcels
    deploy_store.migrations.apply(db)
    parcels.migrations.apply(db)
    from hub.parcels import groupbuy  # group purchases: batches and their households
    groupbuy.migrations.apply(db)
    from hub import notify  # the residents' notification outbox
    notify.migrations.apply(db)
    return db


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
