"""What every blueprint uses: the compound on `g`, the clock, permissions, the audit call."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, g, request

from gatehouse import days, web_roles
from hub import audit, policy_versions
from hub.compound import Compound
from hub.users import can


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


# The session's user and role, and the checks over hub/users.py's roles (shared with
# the district's page: gatehouse/web_roles.py).
user, role = web_roles.user, web_roles.role
_checks = web_roles.RoleChecks(can)
allowed, require = _checks.allowed, _checks.require


def record(action: str, target: str = "", before=None, after=None) -> None:
    """Write one change to the audit log, as the signed-in user."""
    audit.record(db(), now(), user(), role(), action, target, before, after,
                 request.remote_addr or "")


def close(_exc=None) -> None:
    c = g.pop("compound", None)
    if c is not None:
        c.db.close()
