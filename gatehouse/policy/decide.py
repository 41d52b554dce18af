"""The gate's decision: one pure function from codes, gate state and history to admit/refer/refuse.

No clock, database or I/O in here: `now`, the building statuses, revocations and the
person's history are passed in, so every rule is a row in a parametrized test.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time

from gatehouse.codes.format import CodeError, CodeProblem, VerifiedCode
from gatehouse.codes.kinds import (
    CodeKind,
    Colour,
    Health,
    Pass,
    Vaccination,
)
from gatehouse.policy.model import BuildingStatus, Direction, Outcome, Policy, Who
from gatehouse.policy.reasons import ADMIT_TEXT, Reason, days, duration, render
from gatehouse.privacy import mask_name

PERSON_KINDS = (CodeKind.PASS, CodeKind.HEALTH, CodeKind.ITINERARY)
_PROBLEM_REASON = {
    CodeProblem.NOT_OURS: Reason.CODE_UNRECOGNISED,
    CodeProblem.MALFORMED: Reason.CODE_INVALID,
    CodeProblem.UNKNOWN_KEY: Reason.ISSUER_UNTRUSTED,
    CodeProblem.WRONG_ISSUER: Reason.ISSUER_UNTRUSTED,
    CodeProblem.SIGNATURE_BAD: Reason.SIGNATURE_BAD,
    CodeProblem.EXPIRED: Reason.EXPIRED,
    CodeProblem.NOT_YET_VALID: Reason.NOT_YET_VALID,
}
_STATUS_REASON = {BuildingStatus.SEALED: Reason.BUILDING_SEALED,
                  BuildingStatus.CONTROLLED: Reason.BUILDING_CONTROLLED}
_VACCINE_RANK = {Vaccination.BOOSTER: 2, Vaccination.PRIMARY: 1}


@dataclass(frozen=True)
class GateState:
    """What the gate holds besides the codes: the hub's bundle and its own clock."""

    policy: Policy
    buildings: Mapping[str, BuildingStatus] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()
    clock_trusted: bool = True
    data_age_seconds: float | None = None


@dataclass(frozen=True)
class History:
    """What the log says about this person (exits counted per the policy's quota scope)."""

    last_direction: Direction | None = None
    exits_in_period: int = 0
    out_since: float | None = None


@dataclass(frozen=True)
class Subject:
    """Who the attempt is about, as much as the screen and log may show."""

    who: Who | None = None
    person_ref: str | None = None
    name: str = ""
    household: str | None = None
    building: str | None = None
    pass_id: str | None = None
    company: str | None = None

    def to_json(self) -> dict:
        return {k: (v.value if isinstance(v, Who) else v) for k, v in self.__dict__.items()
                if v not in (None, "")}


@dataclass(frozen=True)
class Finding:
    """One reason with its effect: an outcome, or None for a note that changes nothing."""

    reason: Reason
    outcome: Outcome | None
    params: dict = field(default_factory=dict)

    def text(self, lang: str = "zh") -> str:
        return render(self.reason, self.params, lang)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    direction: Direction
    subject: Subject
    findings: tuple[Finding, ...]
    missing: tuple[str, ...]
    policy_version: int
    clock_trusted: bool

    @property
    def reasons(self) -> list[Reason]:
        return [f.reason for f in self.findings]

    @property
    def alert(self) -> bool:
        return any(f.reason.alerts for f in self.findings)

    @property
    def complete(self) -> bool:
        """False while the only thing wrong is a code not shown yet: keep waiting."""
        return not self.missing or any(
            f.outcome is Outcome.REFUSE and f.reason is not Reason.MISSING_CODE
            for f in self.findings)

    def text(self, lang: str = "zh") -> str:
        """One line for the screen: the reasons that decided, or the welcome."""
        decisive = [f for f in self.findings if f.outcome is self.outcome] or \
            [f for f in self.findings if f.outcome is not None]
        if self.outcome is Outcome.ADMIT or not decisive:
            return ADMIT_TEXT[self.direction.value][0 if lang == "zh" else 1]
        return ("；" if lang == "zh" else "; ").join(f.text(lang) for f in decisive)

    def to_json(self) -> dict:
        return {
            "decision": self.outcome.value,
            "direction": self.direction.value,
            "reasons": [{"code": f.reason.value,
                         "effect": f.outcome.value if f.outcome else "note",
                         "zh": f.text("zh"), "en": f.text("en")} for f in self.findings],
            "text": {"zh": self.text("zh"), "en": self.text("en")},
            "missing": list(self.missing),
            "alert": self.alert,
            "person": self.subject.to_json(),
            "policy_version": self.policy_version,
            "clock_trusted": self.clock_trusted,
        }


def subject_of(codes: Sequence[VerifiedCode | CodeError]) -> Subject:
    """Who these codes describe (the pass speaks first, then health, itinerary, badge)."""
    usable = _usable(codes)
    p, h = usable.get(CodeKind.PASS), usable.get(CodeKind.HEALTH)
    c, i = usable.get(CodeKind.COURIER), usable.get(CodeKind.ITINERARY)
    if c is not None and p is None:
        return Subject(Who.COURIER, name=mask_name(c.claims.name), company=c.claims.company)
    ref = next((x.claims.person_ref.hex() for x in (p, h, i) if x is not None), None)
    if p is not None:
        return Subject(Who.RESIDENT, ref, mask_name(p.claims.name), p.claims.household,
                       p.claims.building, p.id)
    if h is not None or i is not None:
        return Subject(Who.VISITOR, ref, mask_name(h.claims.name if h else None))
    return Subject()


def decide(codes: Sequence[VerifiedCode | CodeError], direction: Direction,
           state: GateState, now: float, history: History = History()) -> Decision:
    """Decide one attempt: every code the person showed, at this gate, at `now`."""
    policy = state.policy
    findings: list[Finding] = []
    for err in (c for c in codes if isinstance(c, CodeError)):
        outcome = None if err.problem is CodeProblem.NOT_OURS else Outcome.REFUSE
        kind = err.kind.name.lower() if err.kind else "code"
        findings.append(Finding(_PROBLEM_REASON[err.problem], outcome, {"kind": kind}))

    usable = _usable(codes)
    current = {k: v for k, v in _valid(codes).items()}
    subject = subject_of(codes)
    refs = {x.claims.person_ref for x in _all_usable(codes) if x.kind in PERSON_KINDS}
    if len(refs) > 1:
        findings.append(Finding(Reason.NOT_SAME_PERSON, Outcome.REFUSE))

    who = subject.who or Who.RESIDENT
    required = policy.requirements[who][direction]
    missing = tuple(k for k in required if CodeKind[k.upper()] not in usable)
    if missing:
        findings.append(Finding(Reason.MISSING_CODE, Outcome.REFUSE, {"kind": missing[0]}))

    if subject.who is Who.RESIDENT:
        findings += _resident(usable[CodeKind.PASS].claims, usable[CodeKind.PASS].id,
                              direction, state, now, history)
    elif subject.who is Who.VISITOR and direction is Direction.IN:
        findings += _action(Reason.VISITOR_CHECK, policy.visitors)
    elif subject.who is Who.COURIER:
        if usable[CodeKind.COURIER].id in state.revoked:   # a badge is revoked like a pass
            findings.append(Finding(Reason.PASS_REVOKED, Outcome.REFUSE))
        if direction is Direction.IN:
            findings += _action(Reason.COURIER_NO_ENTRY, policy.couriers)

    if CodeKind.HEALTH in current:
        findings += _health(current[CodeKind.HEALTH].claims, who, direction, policy, now)
    elif direction is Direction.IN and CodeKind.HEALTH not in usable and \
            who in policy.test.required_for and "health" not in missing:
        findings.append(Finding(Reason.TEST_MISSING, Outcome(policy.test.action)))
    if CodeKind.ITINERARY in current and current[CodeKind.ITINERARY].claims.star:
        findings += _action(Reason.ITINERARY_STAR, policy.itinerary.star)

    if state.data_age_seconds is not None and \
            state.data_age_seconds > policy.stale.after_hours * 3600:
        action = None if policy.stale.action == "warn" else Outcome(policy.stale.action)
        findings.append(Finding(Reason.DATA_STALE, action,
                                {"hours": int(state.data_age_seconds // 3600)}))
    if not state.clock_trusted:
        findings = [Finding(f.reason, Outcome.REFER, f.params)
                    if f.reason.depends_on_clock and f.outcome is Outcome.REFUSE else f
                    for f in findings]
        findings.append(Finding(Reason.CLOCK_UNTRUSTED, Outcome.REFER))

    outcome = max((f.outcome for f in findings if f.outcome is not None),
                  key=lambda o: o.severity, default=Outcome.ADMIT)
    findings.sort(key=lambda f: -(f.outcome.severity if f.outcome else -1))
    return Decision(outcome, direction, subject, tuple(findings), missing,
                    policy.version, state.clock_trusted)


def _all_usable(codes) -> list[VerifiedCode]:
    """Valid codes, and codes that failed only on time: they still say who is there."""
    return [c if isinstance(c, VerifiedCode) else c.code for c in codes
            if isinstance(c, VerifiedCode) or (isinstance(c, CodeError) and c.code)]


def _usable(codes) -> dict[CodeKind, VerifiedCode]:
    return _newest(_all_usable(codes))


def _valid(codes) -> dict[CodeKind, VerifiedCode]:
    return _newest([c for c in codes if isinstance(c, VerifiedCode)])


def _newest(codes: list[VerifiedCode]) -> dict[CodeKind, VerifiedCode]:
    out: dict[CodeKind, VerifiedCode] = {}
    for c in sorted(codes, key=lambda c: c.iat):
        out[c.kind] = c
    return out


def _action(reason: Reason, action: str, params: dict | None = None) -> list[Finding]:
    return [] if action in ("admit", "off") else [Finding(reason, Outcome(action), params or {})]


def _resident(p: Pass, pass_id: str, direction: Direction, state: GateState,
              now: float, history: History) -> list[Finding]:
    policy, out = state.policy, []
    if pass_id in state.revoked:
        out.append(Finding(Reason.PASS_REVOKED, Outcome.REFUSE))
    status = state.buildings.get(p.building, BuildingStatus.NORMAL)
    rule = policy.buildings[status]
    action = rule.in_ if direction is Direction.IN else rule.out
    if action == "quota":
        out += _quota(policy, now, history)
    elif action != "admit":
        reason = _STATUS_REASON.get(status, Reason.BUILDING_RESTRICTED)
        out.append(Finding(reason, Outcome(action), {
            "building": p.building, "status": status.value, "direction": direction.value}))
    if direction is Direction.IN and rule.out == "quota" and history.out_since is not None \
            and now - history.out_since > policy.quota.max_hours_out * 3600:
        out.append(Finding(Reason.OUT_TOO_LONG, None, {"hours": policy.quota.max_hours_out}))
    if policy.passback != "off" and history.last_direction is direction:
        out += _action(Reason.PASSBACK, policy.passback, {"last": direction.value})
    return out


def _quota(policy: Policy, now: float, history: History) -> list[Finding]:
    q, out = policy.quota, []
    local = datetime.fromtimestamp(now, policy.zone).time()
    start, until = time.fromisoformat(q.allowed_from), time.fromisoformat(q.allowed_until)
    inside = start <= local < until if start <= until else (local >= start or local < until)
    if not inside:
        out.append(Finding(Reason.OUTSIDE_HOURS, Outcome.REFUSE,
                           {"start": q.allowed_from, "until": q.allowed_until}))
    if history.exits_in_period >= q.exits:
        out.append(Finding(Reason.QUOTA_USED, Outcome.REFUSE,
                           {"count": q.exits, "scope": q.scope, "period": q.period_hours}))
    return out


def _health(h: Health, who: Who, direction: Direction, policy: Policy,
            now: float) -> list[Finding]:
    out: list[Finding] = []
    if h.colour is Colour.RED:
        out.append(Finding(Reason.HEALTH_RED, Outcome.REFUSE))
    elif h.colour is Colour.YELLOW:
        out += _action(Reason.HEALTH_YELLOW, policy.health.yellow)
    if direction is not Direction.IN:
        return out
    test = policy.test
    if who in test.required_for:
        if h.tested_at is None:
            out.append(Finding(Reason.TEST_MISSING, Outcome(test.action)))
        elif test.mode == "hours" and now - h.tested_at > test.max_hours * 3600:
            out.append(Finding(Reason.TEST_TOO_OLD, Outcome(test.action), {
                "limit": duration(test.max_hours * 3600), "age": duration(now - h.tested_at)}))
        elif test.mode == "calendar_days":
            zone = policy.zone
            age_days = (datetime.fromtimestamp(now, zone).date()
                        - datetime.fromtimestamp(h.tested_at, zone).date()).days
            if age_days > test.max_days:
                out.append(Finding(Reason.TEST_TOO_OLD, Outcome(test.action), {
                    "limit": days(test.max_days), "age": days(age_days)}))
    need = policy.vaccination.minimum
    if need != "none":
        rank = _VACCINE_RANK.get(h.vaccination, 0)
        exempt = h.vaccination is Vaccination.NOT_SUITABLE and policy.vaccination.not_suitable_counts
        if rank < (2 if need == "booster" else 1) and not exempt:
            out += _action(Reason.VACCINATION_INCOMPLETE, policy.vaccination.action,
                           {"required": need})
    return out
