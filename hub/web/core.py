"""What every blueprint uses: the compound on `g`, the clock, permissions, the audit call."""
from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app, g, request, session

from gatehouse import days
from hub import audit, policy_versions
from hub.compound import Compound
from hub.users import Perm, can


def config():
    return current_app.config["GATEHOUSE"]


def compound() -> Compound:
    """The compound for this request: its own database connection, closed at teardown."""
    if "compound" not in g:
        g.compound = Compound.open(config().home)
    return g.compound


def db():
    return compound().db


def now() -> float:
    return config().clock()


def zone() -> ZoneInfo:
    if "zone" not in g:
        g.zone = policy_versions.current_policy(db()).zone
    return g.zone


def local(at: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, zone()).strftime(fmt)


def iso(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, zone()).isoformat(timespec="seconds")


def day_start(at: float) -> float:
    return days.day_start(at, zone())


def parse_local(text: str) -> float:
    """'2026-11-23T08:00' from a datetime-local input, in the compound's zone."""
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone())
    return dt.timestamp()


def user() -> str:
    return session.get("user", "")


def role() -> str:
    return session.get("role", "")


def allowed(perm: Perm) -> bool:
    return bool(role()) and can(role(), perm)


def require(perm: Perm):
    """Refuse (403) a user whose role lacks `perm`."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if not allowed(perm):
                abort(403)
            return view(*args, **kwargs)
        return inner
    return wrap


def record(action: str, target: str = "", before=None, after=None) -> None:
    """Write one change to the audit log, as the signed-in user."""
    audit.record(db(), now(), user(), role(), action, target, before, after,
                 request.remote_addr or "")


def close(_exc=None) -> None:
    c = g.pop("compound", None)
    if c is not None:
        c.db.close()
