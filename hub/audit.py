"""The audit log: every change made from the admin page, append-only.

One row per action: who (user and role), when, what (action and target) and the
state before and after as JSON. Rows are never edited; the retention job is the
only thing that deletes them (after the audit retention, which is longer).
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

import sqlite_utils

from gatehouse.xlsx_write import csv_safe

CSV_FIELDS = ["id", "at", "actor", "role", "action", "target", "before", "after", "ip"]


def _doc(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(db: sqlite_utils.Database, at: float, actor: str, role: str, action: str,
           target: str = "", before: Any = None, after: Any = None, ip: str = "") -> int:
    """Append one action to the log; returns its id."""
    return db["audit"].insert({"at": at, "actor": actor, "role": role, "action": action,
                               "target": str(target), "before": _doc(before),
                               "after": _doc(after), "ip": ip}).last_pk


def entries(db: sqlite_utils.Database, limit: int = 200, action: str | None = None,
            actor: str | None = None) -> list[dict]:
    """Newest first, optionally for one action (prefix) or one actor."""
    where, args = [], []
    if action:
        where.append("action like ?")
        args.append(action + "%")
    if actor:
        where.append("actor = ?")
        args.append(actor)
    sql = "select * from audit" + (" where " + " and ".join(where) if where else "")
    return list(db.query(sql + " order by id desc limit ?", [*args, limit]))


def to_csv(rows: list[dict], fields: list[str], iso=None) -> str:
    """CSV text with a BOM so that Excel opens the Chinese correctly; times as ISO."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    for r in rows:
        row = dict(r)
        if iso:
            for key in ("at", "from_at", "until_at", "since", "created_at"):
                if isinstance(row.get(key), (int, float)):
                    row[key] = iso(row[key])
        w.writerow({k: csv_safe(v) for k, v in row.items()})
    return out.getvalue()
