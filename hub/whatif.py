"""What a new policy would have decided differently for recent attempts, as far as the hub can tell.

The hub does not keep the codes' contents (health colour, test time, places): only each
attempt's recorded reasons, who, direction, building and the building's status then.
So a rule is re-judged from those, and a change that needs data the hub does not have
(a tighter test window, a higher vaccination minimum, quota hours) marks the attempt
as approximate rather than guessing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from gatehouse.policy.model import BuildingStatus, Outcome, Policy
from gatehouse.policy.reasons import Reason
from hub.building_status import building_status_at

_FIXED_REFUSE = {Reason.HEALTH_RED, Reason.SIGNATURE_BAD, Reason.ISSUER_UNTRUSTED,
                 Reason.CODE_INVALID, Reason.EXPIRED, Reason.NOT_YET_VALID,
                 Reason.PASS_REVOKED, Reason.NOT_SAME_PERSON, Reason.MISSING_CODE}


@dataclass(frozen=True)
class Difference:
    event_id: str
    at: float
    gate: str
    who: str
    direction: str
    household: str | None
    before: str
    after: str
    approximate: bool
    why: str


def judge(row: dict, status: BuildingStatus, policy: Policy,
          old: Policy) -> tuple[Outcome, bool, list[str]]:
    """(outcome, approximate, notes) for one recorded attempt under `policy`."""
    reasons = [Reason(r) for r in json.loads(row["reasons"] or "[]") if r in Reason.__members__]
    outcomes, approx, notes = [], False, []

    def add(action: str | None, note: str) -> None:
        if action and action not in ("admit", "off", "warn"):
            outcomes.append(Outcome(action))
            notes.append(note)

    for r in reasons:
        if r in _FIXED_REFUSE:
            add("refuse", r.value)
        elif r is Reason.HEALTH_YELLOW:
            add(policy.health.yellow, r.value)
        elif r is Reason.ITINERARY_STAR:
            add(policy.itinerary.star, r.value)
        elif r is Reason.PASSBACK:
            add(policy.passback, r.value)
        elif r is Reason.CLOCK_UNTRUSTED:
            add("refer", r.value)
        elif r in (Reason.TEST_TOO_OLD, Reason.TEST_MISSING):
            approx |= policy.test != old.test
            if row["who"] in [w.value for w in policy.test.required_for]:
                add(policy.test.action, r.value)
        elif r is Reason.VACCINATION_INCOMPLETE:
            approx |= policy.vaccination.minimum != old.vaccination.minimum
            if policy.vaccination.minimum != "none":
                add(policy.vaccination.action, r.value)
        elif r in (Reason.QUOTA_USED, Reason.OUTSIDE_HOURS):
            approx |= policy.quota != old.quota
            if policy.buildings[status].out == "quota":
                add("refuse", r.value)
        elif r is Reason.DATA_STALE:
            approx |= policy.stale != old.stale
            add(policy.stale.action, r.value)
    # Rules the hub can judge in full from the row, whether or not they fired before.
    if row["who"] == "resident" and row["direction"] in ("in", "out"):
        rule = policy.buildings[status]
        action = rule.in_ if row["direction"] == "in" else rule.out
        if action == "quota":
            approx |= old.buildings[status].out != "quota"   # the quota count is not known
        else:
            add(action, f"building {status.value}")
    elif row["who"] == "visitor" and row["direction"] == "in":
        add(policy.visitors, "visitor")
    elif row["who"] == "courier" and row["direction"] == "in":
        add(policy.couriers, "courier")
    outcome = max(outcomes, key=lambda o: o.severity, default=Outcome.ADMIT)
    return outcome, approx, notes


def compare(db: sqlite_utils.Database, old: Policy, new: Policy, start: float,
            end: float) -> tuple[int, list[Difference]]:
    """(attempts looked at, those decided differently or only approximately knowable)."""
    rows = list(db.query("select * from passages where at >= ? and at < ? order by at",
                         [start, end]))
    out = []
    for row in rows:
        status = building_status_at(db, row["building"], row["at"])
        before, _, _ = judge(row, status, old, old)
        after, approx, notes = judge(row, status, new, old)
        if before is not after or approx:
            out.append(Difference(row["event_id"], row["at"], row["gate"], row["who"] or "",
                                  row["direction"] or "", row["household"], before.value,
                                  after.value, approx, ", ".join(notes)))
    return len(rows), out
