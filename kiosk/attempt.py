"""Grouping the codes one person shows into one attempt.

A person shows a pass, then a health code, a second or two apart; the kiosk decides
once the attempt is complete (or plainly refused) or when no code came for `window`
seconds. A parent often shows a child's codes from the same phone: a code of another
person closes the current attempt and starts that person's, rather than spoiling it.
Pure: time is passed in, and deciding is the judge's job.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from gatehouse.codes.format import CodeError, CodeProblem, VerifiedCode
from gatehouse.codes.kinds import CodeKind
from gatehouse.policy import Decision

Code = VerifiedCode | CodeError
DEFAULT_WINDOW_S = 8.0


class Close(str, Enum):
    COMPLETE = "complete"       # every code needed, or a refusal that no code can mend
    TIMEOUT = "timeout"         # the person stopped showing codes
    SUPERSEDED = "superseded"   # another person's code came


@dataclass(frozen=True)
class Closed:
    """An attempt that is over, with its decision: log it and act on it."""

    codes: tuple[Code, ...]
    decision: Decision
    why: Close


@dataclass
class _Open:
    identity: object
    started: float
    last: float
    codes: list[Code] = field(default_factory=list)
    decision: Decision | None = None   # the judge's word on `codes`, when the last came


def identity(code: Code) -> object:
    """Whose code this is: a person_ref, a courier badge id, or None (unknown, forged)."""
    verified = code if isinstance(code, VerifiedCode) else code.code
    if verified is None:
        return None
    if verified.kind is CodeKind.COURIER:
        return ("courier", verified.cti)
    return getattr(verified.claims, "person_ref", None)


def _kind(code: Code) -> CodeKind | None:
    return code.kind if isinstance(code, VerifiedCode) else code.kind


class AttemptTracker:
    """Collects codes into attempts and closes them through `judge(codes, now)`."""

    def __init__(self, judge: Callable[[list[Code], float], Decision],
                 window: float = DEFAULT_WINDOW_S):
        self.judge = judge
        self.window = window
        self._open: _Open | None = None

    @property
    def pending(self) -> bool:
        return self._open is not None

    def provisional(self) -> Decision | None:
        """The open attempt's decision so far (what the screen asks for next): the one
        `show` made, so a scan is judged once."""
        return self._open.decision if self._open else None

    def show(self, code: Code, now: float) -> list[Closed]:
        """A code was read; returns the attempts this closes (zero, one or two)."""
        if isinstance(code, CodeError) and code.problem is CodeProblem.NOT_OURS:
            return []  # a payment QR or a poster in view is no attempt
        if _kind(code) is CodeKind.VENUE:
            return []  # venue codes bind the kiosk to a place; the gate handles them
        closed: list[Closed] = []
        who = identity(code)
        current = self._open
        if current and who is not None and current.identity is not None \
                and who != current.identity:
            closed.append(self._close(Close.SUPERSEDED, now))
            current = None
        if current is None:
            current = self._open = _Open(who, now, now)
        current.identity = current.identity if current.identity is not None else who
        current.codes = [c for c in current.codes
                         if _kind(c) is None or _kind(c) is not _kind(code)] + [code]
        current.last = now
        decision = self.judge(list(current.codes), now)
        if decision.complete:
            closed.append(Closed(tuple(current.codes), decision, Close.COMPLETE))
            self._open = None
        else:
            current.decision = decision
        return closed

    def touch(self, now: float) -> None:
        """Codes are still in view: the person is still showing them, keep waiting."""
        if self._open:
            self._open.last = now

    def tick(self, now: float) -> list[Closed]:
        """Close the open attempt when no code came for `window` seconds."""
        if self._open and now - self._open.last >= self.window:
            return [self._close(Close.TIMEOUT, now)]
        return []

    def _close(self, why: Close, now: float) -> Closed:
        current, self._open = self._open, None
        return Closed(tuple(current.codes), self.judge(list(current.codes), now), why)
