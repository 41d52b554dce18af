"""Deciding a person's codes at this gate: the policy (pure, gatehouse/policy), given
what this gate's log says of the person and the gate's state (bundle, clock).

The attempt tracker calls it once per scan; admitting by hand uses the same state and
history with only the pass required.
"""
from __future__ import annotations

from gatehouse.bundle import RosterEntry
from gatehouse.policy import Decision, Direction, GateState, History, decide, subject_of
from kiosk import manual
from kiosk.attempt import Code
from kiosk.modes.base import ModeContext


class Judge:
    """`judge(codes, now)`: the decision on the codes shown, for the lane's direction."""

    def __init__(self, ctx: ModeContext, direction: Direction):
        self.ctx = ctx
        self.direction = direction

    def __call__(self, shown: list[Code], now: float) -> Decision:
        subject = subject_of(shown)
        return decide(shown, self.direction, self.state(now), now,
                      self.history(subject.person_ref, subject.household, now))

    def by_hand(self, entry: RosterEntry, now: float) -> Decision:
        """A resident without a phone: only the pass required (kiosk/manual.py)."""
        return manual.decide_by_hand(entry, self.direction, self.state(now), now,
                                     self.history(entry.person_ref, entry.household, now))

    def state(self, now: float) -> GateState:
        ctx = self.ctx
        return ctx.bundle.gate_state(now, ctx.clock_trusted(), ctx.confirmed_at())

    def history(self, person_ref: str | None, household: str | None, now: float) -> History:
        return self.ctx.log.history(person_ref, household, self.ctx.bundle.policy, now)
