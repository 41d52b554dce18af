"""Sign-in attempts at the admin page: who may try now, and each try recorded.

The rules of who waits are gatehouse/signin.py's (shared with the district's page); a
browser's device token is the cookie `gatehouse_device`. Here:
- The try is recorded (as a failure) before the slow password check, in the same write
  transaction as the check of the rules, so parallel tries count each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils
from werkzeug.security import check_password_hash

from gatehouse.db import write_transaction
from gatehouse.signin import (  # noqa: F401  (the rules' numbers, read by the page and tests)
    ADDRESS_FAILURES,
    DEVICE_DAYS,
    FAILURE_WINDOW_S,
    MAX_DELAY_S,
    MAX_FAILURES,
    Failure,
    dummy_hash,
    wait_for_name,
    wait_locked,
)
from hub.users import Role, User


@dataclass(frozen=True)
class Attempt:
    user: User | None           # signed in when set
    wait: int = 0               # seconds to wait before trying again (refused unchecked)


def throttled(db: sqlite_utils.Database, username: str, ip: str, now: float,
              device: str | None = None) -> int:
    """Seconds to wait before another try of this name (0: go ahead)."""
    since = now - FAILURE_WINDOW_S
    if device:
        mine = [r["at"] for r in db.query(
            "select at from login_attempts where ok = 0 and at > ? and username = ? and "
            "device = ? order by at", [since, username, device])]
        return wait_locked(mine, now)
    fails = [Failure(r["at"], r["username"], r["ip"]) for r in db.query(
        "select at, username, ip from login_attempts where ok = 0 and at > ? and "
        "(username = ? or ip = ?) order by at", [since, username, ip])]
    return wait_for_name(fails, username, ip, now)


def sign_in(db: sqlite_utils.Database, username: str, password: str, ip: str, now: float,
            device: str | None = None) -> Attempt:
    """Check the rules, record the try, then the password (slow, outside the lock)."""
    username = username[:80]
    with write_transaction(db):
        wait = throttled(db, username, ip, now, device)
        if wait:
            return Attempt(None, wait)
        attempt = db["login_attempts"].insert({"at": now, "username": username, "ip": ip,
                                               "ok": 0, "device": device}).last_pk
    row = next(db.query("select * from users where username = ?", [username]), None)
    ok = check_password_hash(row["pw_hash"] if row else dummy_hash(), password or "")
    if not (ok and row is not None and row["disabled_at"] is None):
        return Attempt(None)
    db.execute("update login_attempts set ok = 1 where id = ?", [attempt])
    db.conn.commit()
    return Attempt(User(row["username"], Role(row["role"]), row["session_gen"]))
