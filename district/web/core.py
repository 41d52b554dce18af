"""What every blueprint of the district's page uses: the database on `g`, the clock and
zone, permissions, and the audit call."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from flask import current_app, g, request
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from district.db import connect
from district.web.accounts import can
from gatehouse import web_roles


def config():
    return current_app.config["DISTRICT"]


def db() -> psycopg.Connection:
    """This request's connection (autocommit; closed at teardown)."""
    if "db" not in g:
        g.db = connect(config().dsn, dicts=True)
    return g.db


@contextmanager
def tuple_rows() -> Iterator[psycopg.Connection]:
    """This request's connection giving tuples, for library code written that way."""
    conn = db()
    conn.row_factory = tuple_row   # type: ignore[assignment]
    try:
        yield conn
    finally:
        conn.row_factory = dict_row   # type: ignore[assignment]


def close(_exc=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def now() -> float:
    return config().clock()


def zone() -> ZoneInfo:
    return ZoneInfo(config().zone)


def local(at: float | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time in the district's zone ('' for none)."""
    if at is None:
        return ""
    if isinstance(at, datetime):
        return at.astimezone(zone()).strftime(fmt)
    return datetime.fromtimestamp(at, zone()).strftime(fmt)


def ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


# The session's user and role, and the checks over accounts.py's roles (shared with
# the hub's page: gatehouse/web_roles.py).
user, role = web_roles.user, web_roles.role
_checks = web_roles.RoleChecks(can)
allowed, require = _checks.allowed, _checks.require


def record(action: str, target: str = "", detail: dict[str, Any] | None = None) -> None:
    """One row of the append-only audit log, as the signed-in user, from this address."""
    db().execute("insert into audit (at, actor, role, action, target, detail, ip) "
                 "values (%s, %s, %s, %s, %s, %s, %s)",
                 [ts(now()), user(), role(), action, str(target)[:200],
                  Jsonb(detail or {}), request.remote_addr or ""])
