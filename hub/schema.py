"""The hub database's schema: the core tables and the one list of every migration set,
in the order `open_db` applies them.

sqlite-utils records each migration applied by (set name, function name) in
`_sqlite_migrations`, so neither may change once released: a database from any
earlier version is migrated by exactly the steps it has not seen yet.
"""
from __future__ import annotations

from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from hub import deploy_store, notify_schema
from hub.parcels import groupbuy_schema
from hub.parcels import schema as parcels_schema

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


# m010_web runs after m003 and before m004: it was numbered when it was written on a
# branch, and sqlite-utils applies a set in the order of definition, not of the names.
# Databases in the field have it recorded under this name, so it keeps both name and
# place (a rename would run it again on them and fail on its existing tables).
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


# Readers that go on after a cursor of alert ids (keys in `meta`): hub/alert_delivery.py
# and hub/alert_topic.py.
ALERT_CURSORS = ("alert_delivery.cursor", "alert_topic.cursor")


@migrations()
def m008_alert_ids_never_reused(db: sqlite_utils.Database) -> None:
    # Without AUTOINCREMENT, SQLite gives max(id) + 1: once the nightly purge emptied the
    # table, ids began again at 1 and every reader past its cursor skipped the new
    # alerts (a forced door never sent). Rebuilt with AUTOINCREMENT, the sequence above
    # every id and cursor ever given.
    cols = [c.name for c in db["alerts"].columns]
    indexes = [r[0] for r in db.execute("select sql from sqlite_master where type = 'index' "
                                        "and tbl_name = 'alerts' and sql is not null")]
    db.execute("""create table alerts_new (id integer primary key autoincrement, at real,
        gate text, kind text, event_id text, detail text, acked_at real, acked_by text,
        note text)""")
    names = ", ".join(f"[{c}]" for c in cols)
    db.execute(f"insert into alerts_new ({names}) select {names} from alerts")
    db.execute("drop table alerts")
    db.execute("alter table alerts_new rename to alerts")
    for sql in indexes:
        db.execute(sql)
    top = db.execute("select coalesce(max(id), 0) from alerts").fetchone()[0]
    for key in ALERT_CURSORS:
        row = db.execute("select value from meta where key = ?", [key]).fetchone()
        top = max(top, int(row[0]) if row and str(row[0]).isdigit() else 0)
    db.execute("delete from sqlite_sequence where name = 'alerts'")
    db.execute("insert into sqlite_sequence (name, seq) values ('alerts', ?)", [top])


@migrations()
def m009_district_link(db: sqlite_utils.Database) -> None:
    # The compound's feed to its district (hub/district_feed.py): every gate event gets a
    # `cseq`, the compound's own gap-free sequence, from a trigger in the transaction that
    # stores it (no ingest path can miss one; a rolled-back insert takes its number back
    # with it, and AUTOINCREMENT never gives one out twice). Events already stored are
    # numbered here in the order they were stored.
    db.execute("""create table district_feed (cseq integer primary key autoincrement,
        event_id text not null unique, acked_at real)""")
    db.execute("create index district_feed_unacked on district_feed (cseq) "
               "where acked_at is null")
    db.execute("insert into district_feed (event_id) select id from gate_events "
               "order by rowid")
    db.execute("""create trigger district_feed_append after insert on gate_events
        begin insert or ignore into district_feed (event_id) values (new.id); end""")
    # What became of each order of the district (hub/district_orders.py): written in the
    # transaction that applies it, so a restart never applies one twice and reports it
    # again as it was.
    db["district_orders"].create({"seq": int, "kind": str, "building": str,
                                  "status": str, "reason": str, "at": float,
                                  "bundle_version": int, "policy_version": int,
                                  "reported_at": float}, pk="seq")



@migrations()
def m011_district_feed_without_event_index(db: sqlite_utils.Database) -> None:
    # The feed's unique index on the event's id (a random text key) halved the gate
    # events the hub could store a second (docs/performance.md, "Before and after the
    # structure of issue 13": 40,000 -> 18,000 rows/s in SQLite alone). The trigger fires
    # only for a new gate_events row (its primary key refuses a second), so nothing
    # needs it: the table is rebuilt without it, its numbers and its AUTOINCREMENT high
    # mark kept, so no cseq is ever given out twice.
    given = db.execute("select seq from sqlite_sequence where name = 'district_feed'"
                       ).fetchone()
    db.execute("drop trigger district_feed_append")
    db.execute("""create table district_feed_new (cseq integer primary key autoincrement,
        event_id text not null, acked_at real)""")
    db.execute("insert into district_feed_new (cseq, event_id, acked_at) "
               "select cseq, event_id, acked_at from district_feed")
    db.execute("drop table district_feed")
    db.execute("alter table district_feed_new rename to district_feed")
    if given:
        db.execute("update sqlite_sequence set seq = max(seq, ?) where name = 'district_feed'",
                   [given[0]])
        db.execute("insert into sqlite_sequence (name, seq) select 'district_feed', ? "
                   "where not exists (select 1 from sqlite_sequence "
                   "where name = 'district_feed')", [given[0]])
    db.execute("create index district_feed_unacked on district_feed (cseq) "
               "where acked_at is null")
    db.execute("""create trigger district_feed_append after insert on gate_events
        begin insert into district_feed (event_id) values (new.id); end""")


# Every migration set, in order: the core first; the others only add their own tables.
MIGRATION_SETS: tuple[Migrations, ...] = (
    migrations,                 # "gatehouse.hub": policies, gates, events, web, …
    deploy_store.migrations,    # "gatehouse.hub.deploy": enrollment codes, backups
    parcels_schema.migrations,  # "gatehouse.hub.parcels": parcels, shelves, runs
    groupbuy_schema.migrations,  # "gatehouse.hub.groupbuy": group purchases
    notify_schema.migrations,   # "gatehouse.hub.notify": the residents' outbox
)


def open_db(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the hub database, in WAL mode, migrated to the latest schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.enable_wal()
    db.execute("PRAGMA busy_timeout = 5000")
    db.execute("PRAGMA foreign_keys = ON")
    for migration_set in MIGRATION_SETS:
        migration_set.apply(db)
    return db
