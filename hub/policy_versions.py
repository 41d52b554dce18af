"""The compound's policy as numbered versions (the `policies` table): the current one,
any past one, and saving the next, in one transaction."""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.policy.model import Policy


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
