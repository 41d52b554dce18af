"""People who sign in to the admin page: roles, hashed passwords, login throttling.

A role is a fixed set of permissions (ROLE_PERMISSIONS); the page checks a permission,
never a role name, so adding a role is one line here.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from gatehouse.signin import MIN_PASSWORD, USERNAME, dummy_hash, password_problem  # noqa: F401


class Role(str, Enum):
    ADMIN = "admin"          # everything, including users, policy and unmasking
    OFFICE = "office"        # 居委会工作人员: residents, passes, buildings, visitors, alerts
    LEAD = "lead"            # 志愿者组长: overview, alerts, visitors
    OBSERVER = "observer"    # 卫健观察员: reads and exports, changes nothing

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {Role.ADMIN: "管理员 Admin", Role.OFFICE: "居委工作人员 Office staff",
               Role.LEAD: "志愿者组长 Volunteer lead",
               Role.OBSERVER: "卫健观察员 Observer (read-only)"}


class Perm(str, Enum):
    VIEW = "view"
    TRACE = "trace"            # run tracing queries and export their CSV
    ACK = "ack"                # acknowledge alerts
    VISITORS = "visitors"      # register / cancel visitors
    RESIDENTS = "residents"    # import, edit residents
    PASSES = "passes"          # issue, print, revoke passes
    BUILDINGS = "buildings"    # set building status
    PRESENCE = "presence"      # run the presence reset by hand
    POLICY = "policy"          # change the gate policy
    USERS = "users"            # add users, change roles
    UNMASK = "unmask"          # see full names and phone numbers (logged)
    AUDIT = "audit"            # read and export the audit log
    NOTIFY = "notify"          # retry residents' notifications that failed or were skipped
    PARCELS = "parcels"        # parcel work: exceptions, returns, run sheets, audit sheets
    SHELVES = "shelves"        # set up shelves and the parcel settings (holds, runs)
    ALERT_ROUTES = "alert_routes"  # where alerts go: robots, webhooks, SMS (admin only)


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.OFFICE: frozenset({Perm.VIEW, Perm.TRACE, Perm.ACK, Perm.VISITORS, Perm.RESIDENTS,
                            Perm.PASSES, Perm.BUILDINGS, Perm.PRESENCE, Perm.AUDIT,
                            Perm.NOTIFY, Perm.PARCELS, Perm.SHELVES}),
    Role.LEAD: frozenset({Perm.VIEW, Perm.ACK, Perm.VISITORS, Perm.PARCELS}),
    Role.OBSERVER: frozenset({Perm.VIEW, Perm.TRACE, Perm.AUDIT}),
}


def can(role: Role | str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[Role(role)]


class UserError(ValueError):
    """A user operation that cannot be done; the text says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    session_gen: int
    disabled: bool = False


def _check_password(password: str) -> None:
    if password_problem(password):
        raise UserError(password_problem(password))


def add_user(db: sqlite_utils.Database, username: str, password: str, role: Role | str,
             at: int) -> User:
    """Create a user with a salted, hashed password (scrypt, via werkzeug)."""
    if not USERNAME.match(username or ""):
        raise UserError("a username is 2-40 letters, digits, _ . @ -")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"a role is one of {', '.join(r.value for r in Role)}") from None
    _check_password(password)
    if db["users"].count_where("username = ?", [username]):
        raise UserError(f"user {username} exists already")
    db["users"].insert({"username": username, "pw_hash": generate_password_hash(password),
                        "role": role.value, "created_at": at, "disabled_at": None,
                        "session_gen": 1})
    return User(username, role, 1)


def set_password(db: sqlite_utils.Database, username: str, password: str) -> None:
    """New password; every session of this user ends (the session generation moves on)."""
    _check_password(password)
    user = get_user(db, username)
    if user is None:
        raise UserError(f"no user {username}")
    db["users"].update(username, {"pw_hash": generate_password_hash(password),
                                  "session_gen": user.session_gen + 1})


def end_sessions(db: sqlite_utils.Database, username: str) -> None:
    """Sign a user out everywhere: every cookie issued so far stops working."""
    user = get_user(db, username)
    if user is not None:
        db["users"].update(username, {"session_gen": user.session_gen + 1})


def set_role(db: sqlite_utils.Database, username: str, role: Role | str) -> None:
    user = get_user(db, username)
    if user is None:
        raise UserError(f"no user {username}")
    db["users"].update(username, {"role": Role(role).value, "session_gen": user.session_gen + 1})


def disable_user(db: sqlite_utils.Database, username: str, at: int) -> None:
    user = get_user(db, username)
    if user is None:
        raise UserError(f"no user {username}")
    db["users"].update(username, {"disabled_at": at, "session_gen": user.session_gen + 1})


def get_user(db: sqlite_utils.Database, username: str) -> User | None:
    row = next(db.query("select * from users where username = ?", [username]), None)
    if row is None:
        return None
    return User(row["username"], Role(row["role"]), row["session_gen"],
                row["disabled_at"] is not None)


def list_users(db: sqlite_utils.Database) -> list[dict]:
    return [{k: r[k] for k in ("username", "role", "created_at", "disabled_at")}
            for r in db.query("select * from users order by username")]


def authenticate(db: sqlite_utils.Database, username: str, password: str, ip: str,
                 now: float) -> User | None:
    """The user when name and password match (and the user is active); every try is logged.
    Sign-in at the login page goes through hub.logins.sign_in (throttled)."""
    row = next(db.query("select * from users where username = ?", [username]), None)
    ok = check_password_hash(row["pw_hash"] if row else dummy_hash(), password or "")
    ok = ok and row is not None and row["disabled_at"] is None
    db["login_attempts"].insert({"at": now, "username": username[:80], "ip": ip, "ok": int(ok)})
    if not ok:
        return None
    return User(row["username"], Role(row["role"]), row["session_gen"])
