"""Volunteer sign-in at the kiosk: a PIN per volunteer, locked after repeated failures.

Pure apart from the PIN hash check: time is passed in. One volunteer is signed in at
a gate at a time (the screen is shared); they are signed out after a while idle.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gatehouse.bundle import Volunteer
from gatehouse.pins import check_pin

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
IDLE_SECONDS = 10 * 60


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    reason: str = ""          # "", "unknown", "wrong_pin", "locked"
    tries_left: int = MAX_FAILURES
    locked_until: float | None = None


@dataclass
class Desk:
    """Who is signed in at this gate, and who is locked out."""

    volunteers: dict[str, Volunteer] = field(default_factory=dict)
    signed_in: Volunteer | None = None
    last_action: float = 0.0
    _failures: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def update(self, volunteers: tuple[Volunteer, ...]) -> None:
        """A new bundle: a disabled volunteer is signed out at once."""
        self.volunteers = {v.id: v for v in volunteers}
        if self.signed_in and self.signed_in.id not in self.volunteers:
            self.signed_in = None

    def locked(self, vid: str, now: float) -> float | None:
        until = self._locked_until.get(vid)
        return until if until and until > now else None

    def sign_in(self, vid: str, pin: str, now: float) -> SignInResult:
        """Check the PIN here and record the outcome (tests, the command line)."""
        v = self.volunteers.get(vid)
        return self.record(vid, v is not None and check_pin(pin, v.pin_hash), now)

    def record(self, vid: str, pin_ok: bool, now: float) -> SignInResult:
        """The outcome of a PIN check made elsewhere (it is slow on purpose): count a
        failure, lock after five, or sign in."""
        v = self.volunteers.get(vid)
        if v is None:
            return SignInResult(False, "unknown")
        if (until := self.locked(vid, now)) is not None:
            return SignInResult(False, "locked", 0, until)
        if not pin_ok:
            n = self._failures.get(vid, 0) + 1
            self._failures[vid] = n
            if n >= MAX_FAILURES:
                self._failures[vid] = 0
                self._locked_until[vid] = now + LOCK_SECONDS
                return SignInResult(False, "locked", 0, now + LOCK_SECONDS)
            return SignInResult(False, "wrong_pin", MAX_FAILURES - n)
        self._failures.pop(vid, None)
        self.signed_in, self.last_action = v, now
        return SignInResult(True)

    def sign_out(self) -> Volunteer | None:
        v, self.signed_in = self.signed_in, None
        return v

    def touch(self, now: float) -> None:
        self.last_action = now

    def expire(self, now: float) -> Volunteer | None:
        """Sign out a volunteer idle for too long; returns who was signed out."""
        if self.signed_in and now - self.last_action > IDLE_SECONDS:
            return self.sign_out()
        return None
