"""Who signs in to the district's page: roles, hashed passwords, throttled sign-in.

Two roles. The street office (`admin`) sends orders and keeps the users; the health
authority (`observer`) reads everything and traces (流调 is its job), and changes
nothing. The page checks a permission, never a role name.

Users live in the district's PostgreSQL (`users`); failed tries in the append-only
`audit` (action `login.try`, written before the slow password check inside an advisory
lock, so parallel tries count each other; a success writes `login` naming its try).
The waiting rules are the hub's, from gatehouse/signin.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from psycopg.types.json import Jsonb
from werkzeug.security import check_password_hash, generate_password_hash

from gatehouse.signin import (
    FAILURE_WINDOW_S,
    USERNAME,
    Failure,
    dummy_hash,
    password_problem,
    wait_for_name,
    wait_locked,
)

_SIGN_IN_LOCK = 0x6761746568   # pg_advisory_xact_lock key: one sign-in check at a time


class Role(str, Enum):
    ADMIN = "admin"          # 街道办 the street office: orders, users, unmasking
    OBSERVER = "observer"    # 卫健 the health authority: reads, traces, exports


ROLE_LABELS = {Role.ADMIN: "街道管理员 Street office",
               Role.OBSERVER: "卫健观察员 Health authority"}


class Perm(str, Enum):
    VIEW = "view"            # the overview, a compound, the orders and their status
    TRACE = "trace"          # timelines, co-presence and their exports (each audited)
    AUDIT = "audit"          # read the audit log
    UNMASK = "unmask"        # whole person references (audited)
    ORDERS = "orders"        # seal, control, reopen a building; push a policy
    USERS = "users"          # add and disable users


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.OBSERVER: frozenset({Perm.VIEW, Perm.TRACE, Perm.AUDIT}),
}


def can(role: Role | str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


class UserError(ValueError):
    """A user operation that cannot be done; the text says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    session_gen: int
    disabled: bool = False


def _ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def add_user(conn, username: str, password: str, role: Role | str, at: float) -> User:
    """A new user with a salted, hashed password (scrypt, via werkzeug)."""
    if not USERNAME.match(username or ""):
        raise UserError("a username is 2-40 letters, digits, _ . @ -")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"a role is one of {', '.join(r.value for r in Role)}") from None
    if password_problem(password):
        raise UserError(password_problem(password))
    done = conn.execute(
        "insert into users (username, pw_hash, role, created_at, session_gen) "
        "values (%s, %s, %s, %s, 1) on conflict do nothing",
        [username, generate_password_hash(password), role.value, _ts(at)]).rowcount
    if not done:
        raise UserError(f"user {username} exists already")
    return User(username, role, 1)


def disable_user(conn, username: str, at: float) -> None:
    """No more sign-ins; every session of this user ends (the generation moves on)."""
    if not conn.execute("update users set disabled_at = coalesce(disabled_at, %s), "
                        "session_gen = session_gen + 1 where username = %s",
                        [_ts(at), username]).rowcount:
        raise UserError(f"no user {username}")


def set_password(conn, username: str, password: str) -> None:
    if password_problem(password):
        raise UserError(password_problem(password))
    conn.execute("update users set pw_hash = %s, session_gen = session_gen + 1 "
                 "where username = %s", [generate_password_hash(password), username])


def end_sessions(conn, username: str) -> None:
    """Sign out everywhere: a copied cookie stops working too."""
    conn.execute("update users set session_gen = session_gen + 1 where username = %s",
                 [username])


def get_user(conn, username: str) -> User | None:
    row = conn.execute("select * from users where username = %s", [username]).fetchone()
    if row is None:
        return None
    return User(row["username"], Role(row["role"]), row["session_gen"],
                row["disabled_at"] is not None)


def list_users(conn) -> list[dict]:
    return list(conn.execute("select username, role, created_at, disabled_at from users "
                             "order by username"))


def throttled(conn, username: str, ip: str, now: float, device: str | None = None) -> int:
    """Seconds to wait before another try of this name (0: go ahead)."""
    rows = conn.execute(
        "select extract(epoch from a.at)::float8 as at, a.target, a.ip, "
        "a.detail->>'device' as device from audit a "
        "where a.action = 'login.try' and a.at > %(since)s "
        "and (a.target = %(name)s or a.ip = %(ip)s) and not exists ("
        "  select 1 from audit s where s.action = 'login' and s.at > %(since)s "
        "  and s.detail->>'try' = a.id::text) order by a.at",
        {"since": _ts(now - FAILURE_WINDOW_S), "name": username, "ip": ip}).fetchall()
    if device:
        return wait_locked([r["at"] for r in rows if r["target"] == username
                            and r["device"] == device], now)
    return wait_for_name([Failure(r["at"], r["target"], r["ip"]) for r in rows],
                         username, ip, now)


@dataclass(frozen=True)
class Attempt:
    user: User | None           # signed in when set
    wait: int = 0               # seconds to wait before trying again (refused unchecked)


def sign_in(conn, username: str, password: str, ip: str, now: float,
            device: str | None = None) -> Attempt:
    """Check the waiting rules and record the try in one locked transaction, then the
    password (slow, outside the lock)."""
    username = username[:80]
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [_SIGN_IN_LOCK])
        wait = throttled(conn, username, ip, now, device)
        if wait:
            return Attempt(None, wait)
        try_id = conn.execute(
            "insert into audit (at, actor, role, action, target, detail, ip) values "
            "(%s, '', '', 'login.try', %s, %s, %s) returning id",
            [_ts(now), username, Jsonb({"device": device}), ip]).fetchone()["id"]
    row = conn.execute("select * from users where username = %s", [username]).fetchone()
    ok = check_password_hash(row["pw_hash"] if row else dummy_hash(), password or "")
    if not (ok and row is not None and row["disabled_at"] is None):
        return Attempt(None)
    user = User(row["username"], Role(row["role"]), row["session_gen"])
    conn.execute("insert into audit (at, actor, role, action, target, detail, ip) values "
                 "(%s, %s, %s, 'login', %s, %s, %s)",
                 [_ts(now), user.username, user.role.value, user.username,
                  Jsonb({"try": str(try_id)}), ip])
    return Attempt(user)
