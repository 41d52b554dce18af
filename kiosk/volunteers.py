"""Volunteer sign-in at the kiosk: a PIN per volunteer, locked after repeated failures.

Pure apart from the PIN hash check: time is passed in. One volunteer is signed in at
a gate at a time (the screen is shared); they are signed out after a while idle.

Two limits: five wrong PINs lock that volunteer for 15 minutes; and the screen itself
pauses sign-in after ten wrong PINs within ten minutes, whoever they were tried for
(someone cycling through the names), for a minute, doubling each time. Both survive a
restart: the gate replays its own log of sign-in events (`replay`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gatehouse.bundle import Volunteer
from gatehouse.volunteer_pins import check_pin

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
IDLE_SECONDS = 10 * 60
SCREEN_FAILURES = 10          # wrong PINs on this screen, any names, within SCREEN_WINDOW
SCREEN_WINDOW = 10 * 60
SCREEN_PAUSE = 60             # then sign-in pauses; doubled each time, up to MAX_PAUSE
MAX_PAUSE = 30 * 60


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    reason: str = ""          # "", "unknown", "wrong_pin", "locked", "paused"
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
    _screen_failures: list[float] = field(default_factory=list)
    _paused_until: float = 0.0
    _pauses: int = 0

    def update(self, volunteers: tuple[Volunteer, ...]) -> None:
        """A new bundle: a disabled volunteer is signed out at once."""
        self.volunteers = {v.id: v for v in volunteers}
        if self.signed_in and self.signed_in.id not in self.volunteers:
            self.signed_in = None

    def locked(self, vid: str, now: float) -> float | None:
        until = self._locked_until.get(vid)
        return until if until and until > now else None

    def paused(self, now: float) -> float | None:
        """Until when the whole screen refuses sign-in (too many wrong PINs on it)."""
        return self._paused_until if self._paused_until > now else None

    def _screen_failure(self, now: float) -> float | None:
        self._screen_failures = [t for t in self._screen_failures if now - t < SCREEN_WINDOW]
        self._screen_failures.append(now)
        if len(self._screen_failures) < SCREEN_FAILURES:
            return None
        self._screen_failures.clear()
        self._paused_until = now + min(SCREEN_PAUSE * 2 ** self._pauses, MAX_PAUSE)
        self._pauses += 1
        return self._paused_until

    def replay(self, history: list[tuple[float, str, str]], now: float) -> None:
        """Rebuild failures, locks and pauses from the gate's log after a restart:
        (at, volunteer id, action) with action "sign_in", "wrong_pin", "unknown", ...
        Nobody is signed in by it."""
        for at, vid, action in sorted(history):
            if action == "sign_in":
                self._failures.pop(vid, None)
            elif action in ("wrong_pin", "unknown", "locked", "paused") and \
                    self.paused(at) is None and self.locked(vid, at) is None:
                self._failure(vid, at)  # (refusals during a lock or pause never counted)
        self._screen_failures = [t for t in self._screen_failures if now - t < SCREEN_WINDOW]

    def _failure(self, vid: str, now: float) -> SignInResult:
        paused = self._screen_failure(now)
        if vid not in self.volunteers:
            return SignInResult(False, "paused", 0, paused) if paused else \
                SignInResult(False, "unknown")
        n = self._failures.get(vid, 0) + 1
        self._failures[vid] = n
        if n >= MAX_FAILURES:
            self._failures[vid] = 0
            self._locked_until[vid] = now + LOCK_SECONDS
            return SignInResult(False, "locked", 0, now + LOCK_SECONDS)
        if paused:
            return SignInResult(False, "paused", MAX_FAILURES - n, paused)
        return SignInResult(False, "wrong_pin", MAX_FAILURES - n)

    def sign_in(self, vid: str, pin: str, now: float) -> SignInResult:
        """Check the PIN here and record the outcome (tests, the command line)."""
        v = self.volunteers.get(vid)
        return self.record(vid, v is not None and check_pin(pin, v.pin_hash), now)

    def record(self, vid: str, pin_ok: bool, now: float) -> SignInResult:
        """The outcome of a PIN check made elsewhere (it is slow on purpose): count a
        failure, lock after five, or sign in."""
        if (until := self.paused(now)) is not None:
            return SignInResult(False, "paused", 0, until)
        v = self.volunteers.get(vid)
        if v is None:
            return self._failure(vid, now)
        if (until := self.locked(vid, now)) is not None:
            return SignInResult(False, "locked", 0, until)
        if not pin_ok:
            return self._failure(vid, now)
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
