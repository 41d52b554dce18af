"""Sign-in attempts at the admin page: who may try now, and each try recorded.

The rules (docs/security.md):
- A browser where a user signed in before carries a signed device token for that name
  (`gatehouse_device`, 90 days). Its tries count only against itself: five wrong
  passwords in 15 minutes lock that browser for that name. Nobody else's guessing
  slows it, so an attacker cannot keep the office out of its own accounts.
- Without a device token: five failures of a name from one address in 15 minutes lock
  that name at that address; a name failing from anywhere, or an address failing under
  many names, is slowed (1 s after the last failure, doubling to 60 s) but never locked,
  so colleagues behind one office router are not locked out by someone else's typing,
  and a guesser spread over many addresses gets about 60 tries an hour.
- The try is recorded (as a failure) before the slow password check, in the same write
  transaction as the check of the rules, so parallel tries count each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils
from werkzeug.security import check_password_hash

from gatehouse.db import write_transaction
from hub.users import _DUMMY_HASH, Role, User

MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60
ADDRESS_FAILURES = 20           # an address trying many names: slowed after this many
MAX_DELAY_S = 60
DEVICE_DAYS = 90


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
        return _locked(mine, now)
    fails = list(db.query("select at, username, ip from login_attempts where ok = 0 and "
                          "at > ? and (username = ? or ip = ?) order by at",
                          [since, username, ip]))
    pair = [r["at"] for r in fails if r["username"] == username and r["ip"] == ip]
    name = [r["at"] for r in fails if r["username"] == username]
    address = [r["at"] for r in fails if r["ip"] == ip]
    return max(_locked(pair, now), _slowed(name, MAX_FAILURES, now),
               _slowed(address, ADDRESS_FAILURES, now))


def _locked(times: list[float], now: float) -> int:
    if len(times) < MAX_FAILURES:
        return 0
    return _seconds(times[-MAX_FAILURES] + FAILURE_WINDOW_S - now)


def _slowed(times: list[float], free: int, now: float) -> int:
    """After `free` failures, each further try waits 1, 2, 4 ... s (at most MAX_DELAY_S)
    from the last failure."""
    if len(times) < free:
        return 0
    return _seconds(times[-1] + min(MAX_DELAY_S, 2 ** (len(times) - free)) - now)


def _seconds(wait: float) -> int:
    return int(wait) + 1 if wait > 0 else 0


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
    ok = check_password_hash(row["pw_hash"] if row else _DUMMY_HASH, password or "")
    if not (ok and row is not None and row["disabled_at"] is None):
        return Attempt(None)
    db.execute("update login_attempts set ok = 1 where id = ?", [attempt])
    db.conn.commit()
    return Attempt(User(row["username"], Role(row["role"]), row["session_gen"]))
