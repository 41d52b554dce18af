"""A person at the gate: codes grouped into one attempt, decided, logged, then acted on.

The last mode in precedence: every scan no other mode took is a person's. One judge
per scan: the attempt tracker (kiosk/attempt.py) judges the codes shown so far once,
and that decision both closes the attempt when it is complete and tells the screen
what to ask for next. The log row is committed before the door opens.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from gatehouse import event_payloads as payloads
from gatehouse.codes.format import CodeError
from gatehouse.events import EventKind
from gatehouse.policy import Decision, Direction, Outcome
from gatehouse.policy.reasons import WORDS
from kiosk import manual
from kiosk.attempt import AttemptTracker, Closed, Code
from kiosk.gpio import Pattern
from kiosk.judge import Judge
from kiosk.modes.base import Mode, ModeContext, Scan
from kiosk.scanner import Symbol

log = logging.getLogger(__name__)
SOUND = {Outcome.ADMIT: Pattern.ADMIT, Outcome.REFER: Pattern.REFER,
         Outcome.REFUSE: Pattern.REFUSE}
DECIDED_SHOWN_S = 3.0  # a referral settled by a volunteer stays this long
PROMPT_ALL = {"in": ("请出示出入证和健康码", "Show your pass and health code"),
              "out": ("请出示出入证", "Show your pass")}


@dataclass(frozen=True)
class Shown:
    """A decision on the screen, until `until`; a referral shows how it was settled."""

    decision: Decision
    attempt_id: str
    at: float
    until: float
    decided: Outcome | None = None
    decided_by: str | None = None


@dataclass
class Referral:
    """A referred attempt waiting for a volunteer (override button or screen)."""

    attempt_id: str
    decision: Decision
    since: float


def code_summary(code: Code) -> dict:
    """What the log keeps of a code: kind, id and issuer, or the problem; never its text."""
    if isinstance(code, CodeError):
        out = {"problem": code.problem.value, "fingerprint": code.fingerprint}
        if code.kind is not None:
            out["kind"] = code.kind.name.lower()
        if code.code is not None:
            out["id"] = code.code.id
        return out
    return {"kind": code.kind.name.lower(), "id": code.id, "issuer": code.issuer}


class EntryMode(Mode):
    """Entry and exit: attempts, referrals, admitting by hand, the lane's direction.
    Gates only: the parcel area decides no entries and opens no door."""

    name = "entry"
    roles = ("gate",)

    def __init__(self, ctx: ModeContext):
        super().__init__(ctx)
        self.tracker = AttemptTracker(Judge(ctx, ctx.direction), ctx.config.attempt_window_s)
        self.referral: Referral | None = None
        self.result: Shown | None = None       # what the screen shows, until it expires
        self.prompt: Decision | None = None    # the open attempt so far: what to ask next

    @property
    def direction(self) -> Direction:
        return self.ctx.direction

    # Scans, frames, ticks ----------------------------------------------------

    def takes(self, scan: Scan) -> bool:
        return True  # what no mode before this one took is a person's code

    def on_scan(self, scan: Scan) -> list[Closed]:
        closed = self.tracker.show(scan.code, scan.now)
        for attempt in closed:
            self._act(attempt, scan.now)
        self.prompt = self.tracker.provisional()
        return closed

    def on_frame(self, symbols: list[Symbol], now: float) -> None:
        if symbols:
            self.tracker.touch(now)  # the window runs from when codes left the view

    def on_tick(self, now: float) -> None:
        for attempt in self.tracker.tick(now):
            self._act(attempt, now)
        if self.referral and now - self.referral.since > self.ctx.config.referral_timeout_s:
            self.referral = None
        if self.result and now >= self.result.until:
            self.result = None  # personal data leaves the screen with the countdown
            self.ctx.changed()
        if self.prompt and not self.tracker.pending:
            self.prompt = None
            self.ctx.changed()

    def on_override(self, now: float) -> bool:
        return self.admit_referral()

    # Deciding ----------------------------------------------------------------

    def _act(self, attempt: Closed, now: float) -> None:
        ctx, d = self.ctx, attempt.decision
        logged = ctx.log.log_attempt(d, [code_summary(c) for c in attempt.codes], now,
                                     ctx.bundle.version)
        log.info("attempt %s %s %s", logged.id, d.outcome.value,
                 ",".join(r.value for r in d.reasons) or "-")
        # Only now, with the attempt committed, may the door open.
        if d.outcome is Outcome.ADMIT:
            ctx.door.unlock()
        # A newer attempt supersedes an older referral: the override button must never
        # open the door for the person now at the gate on someone else's referral.
        self.referral = Referral(logged.id, d, now) if d.outcome is Outcome.REFER else None
        self.result = Shown(d, logged.id, now, now + (
            ctx.config.referral_timeout_s if d.outcome is Outcome.REFER
            else ctx.config.result_seconds))
        ctx.sounder.play(SOUND[d.outcome])
        ctx.on_decision(d)

    # A volunteer's actions -----------------------------------------------------

    def admit_referral(self, volunteer: str = "override-button") -> bool:
        """A volunteer admits the referred attempt: logged first, then the door opens."""
        return self.decide_referral(volunteer, Outcome.ADMIT, "override_button")

    def decide_referral(self, volunteer: str, outcome: Outcome, reason: str) -> bool:
        """A volunteer decides the referred attempt; logged with who and why, then acted on."""
        ctx, now, r = self.ctx, self.ctx.now(), self.referral
        if r is None or now - r.since > ctx.config.referral_timeout_s:
            self.referral = None
            return False
        ctx.log.log_event(EventKind.OVERRIDE, now, payloads.OverridePayload(
            attempt_id=r.attempt_id, by=volunteer, outcome=outcome.value, reason=reason))
        self.referral = None
        if outcome is Outcome.ADMIT:
            ctx.door.unlock()
        self.result = Shown(r.decision, r.attempt_id, now, now + DECIDED_SHOWN_S,
                            decided=outcome, decided_by=volunteer)
        ctx.sounder.play(SOUND[outcome])
        ctx.changed()
        return True

    def admit_by_hand(self, volunteer: str, id_number: str) -> Decision | None:
        """A resident without a phone, ID keyed and card checked by a volunteer: decided
        with only the pass required, logged with the volunteer, then acted on.
        None when no resident with a valid pass has this ID number."""
        ctx, now = self.ctx, self.ctx.now()
        entry = manual.look_up(ctx.bundle, id_number)
        if entry is None:
            return None
        d = Judge(ctx, self.direction).by_hand(entry, now)
        if manual.admits(d):
            d = replace(d, outcome=Outcome.ADMIT)  # what the policy refers, the hand admits
        logged = ctx.log.log_attempt(d, [manual.summary(entry, id_number, volunteer)],
                                     now, ctx.bundle.version,
                                     decided_by=f"volunteer:{volunteer}")
        if d.outcome is Outcome.ADMIT:
            ctx.door.unlock()
        self.result = Shown(d, logged.id, now, now + ctx.config.result_seconds,
                            decided_by=volunteer)
        ctx.sounder.play(SOUND[d.outcome])
        ctx.changed()
        return d

    def set_direction(self, direction: Direction, volunteer: str) -> None:
        """Switch a one-lane gate between entry and exit (logged with the volunteer)."""
        if direction is not self.direction:
            self.ctx.log.log_event(EventKind.DIRECTION, self.ctx.now(),
                                   payloads.DirectionPayload(from_=self.direction,
                                                             to=direction, by=volunteer))
            self.ctx.direction = direction
            self.tracker = AttemptTracker(Judge(self.ctx, direction),
                                          self.ctx.config.attempt_window_s)
            self.ctx.changed()

    # The screen ----------------------------------------------------------------

    def screen_mode(self) -> str:
        return "result" if self.result else "ready"

    def screen_state(self, now: float) -> dict:
        """The prompt for the missing code and the result with its countdown; names
        masked, personal data only while the countdown runs."""
        # The loop thread replaces these while the screen reads: each reference once.
        prompt, r, referral = self.prompt, self.result, self.referral
        doc: dict = {"prompt": None, "result": None}
        if prompt is not None and prompt.missing:
            kind = prompt.missing[0]
            zh, en = _words(kind)
            doc["prompt"] = {"zh": f"请出示{zh}", "en": f"Show your {en}",
                             "name": prompt.subject.name, "missing": list(prompt.missing)}
        if r is not None:
            doc["result"] = _result(r, referral, now)
        return doc


def _words(kind: str) -> tuple[str, str]:
    return WORDS.get(kind, (kind, kind))


def _result(r: Shown, referral: Referral | None, now: float) -> dict:
    d = r.decision
    outcome = r.decided or d.outcome
    return {
        "outcome": outcome.value, "policy_outcome": d.outcome.value,
        "name": d.subject.name, "household": d.subject.household,
        "who": d.subject.who.value if d.subject.who else None,
        "zh": d.text("zh") if not r.decided else
        ("志愿者已放行" if outcome is Outcome.ADMIT else "志愿者已拒绝"),
        "en": d.text("en") if not r.decided else
        ("Admitted by a volunteer" if outcome is Outcome.ADMIT
         else "Refused by a volunteer"),
        "reasons": [{"code": f.reason.value, "zh": f.text("zh"), "en": f.text("en")}
                    for f in d.findings if f.outcome is not None],
        "referral": referral is not None and referral.attempt_id == r.attempt_id,
        "seconds_left": max(0, round(r.until - now)),
    }
