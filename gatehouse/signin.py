"""What every sign-in page of the project shares (the hub's admin page, the district's
page): the rules for names and passwords, and who must wait before another try.

The waiting rules (docs/security.md, H7 and R1):
- A browser where a user signed in before carries a signed device token for that name
  (90 days). Its tries count only against itself: five wrong passwords in 15 minutes
  lock that browser for that name, and nobody else's guessing slows it.
- Without a device token: five failures of a name from one address in 15 minutes lock
  that name at that address; a name failing from anywhere, or an address failing under
  many names, is slowed (1 s after the last failure, doubling to 60 s) but never locked,
  so colleagues behind one office router are not locked out by someone else's typing.
Each page keeps its failures in its own store and hands them here as `Failure`s.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from werkzeug.security import generate_password_hash

MIN_PASSWORD = 10
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,40}$")
@functools.cache
def dummy_hash() -> str:
    """Compared against when the name is unknown, so a wrong name costs as much as a
    wrong password. Made on first use: at import it cost every hub and district
    process 0.35 s, sign-ins or not."""
    return generate_password_hash("not-a-real-password-0000")

MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60
ADDRESS_FAILURES = 20           # an address trying many names: slowed after this many
MAX_DELAY_S = 60
DEVICE_DAYS = 90


@dataclass(frozen=True)
class Failure:
    """One failed try within the window: when, under which name, from where."""

    at: float
    username: str
    ip: str


def password_problem(password: str | None) -> str:
    """Why a new password is refused ('' when it is fine)."""
    if len(password or "") < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    return ""


def wait_for_name(failures: list[Failure], username: str, ip: str, now: float) -> int:
    """Seconds to wait before another try of `username` from `ip` without a device token.
    `failures` are those of the window touching that name or that address, oldest first."""
    pair = [f.at for f in failures if f.username == username and f.ip == ip]
    name = [f.at for f in failures if f.username == username]
    address = [f.at for f in failures if f.ip == ip]
    return max(wait_locked(pair, now), _slowed(name, MAX_FAILURES, now),
               _slowed(address, ADDRESS_FAILURES, now))


def wait_locked(times: list[float], now: float) -> int:
    """Five failures within the window lock until the oldest of them leaves it (a
    browser's own failures under its device token, or a name at one address)."""
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
