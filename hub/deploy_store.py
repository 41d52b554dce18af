"""Tables of the deployment side (enrollment codes, backups): their own migration set,
listed in hub/schema.py after the core schema."""
from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("gatehouse.hub.deploy")


@migrations()
def m001_enrollments(db: sqlite_utils.Database) -> None:
    # One row per enrollment code. `token_id` and `seal_key` are derived from the code's
    # secret token (hub/enroll.py); the token itself is never stored.
    db["enrollments"].create({
        "token_id": str, "seal_key": str, "gate": str, "name": str, "broker_host": str,
        "broker_port": int, "created_at": int, "expires_at": int, "actor": str,
        "used_at": float, "used_from": str, "cancelled_at": int}, pk="token_id")
    db["enrollments"].create_index(["gate"])
