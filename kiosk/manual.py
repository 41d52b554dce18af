"""Admitting by hand a resident without a phone (often elderly): a volunteer keys the
ID number, the kiosk finds the resident in the bundle's roster, and the volunteer
attests having checked the ID card. The building's rules still apply: a resident of
a sealed building is not let out by hand either.
"""
from __future__ import annotations

from gatehouse.bundle import Bundle, RosterEntry
from gatehouse.codes.format import VerifiedCode
from gatehouse.codes.kinds import CodeKind, Pass
from gatehouse.identity import normalize_id, roster_ref
from gatehouse.policy import Decision, Direction, GateState, History, Outcome, decide
from gatehouse.privacy import mask_id


def look_up(bundle: Bundle, id_number: str) -> RosterEntry | None:
    """The resident with this ID number, if they hold a valid pass (ValueError: bad ID)."""
    if not bundle.roster_key:
        return None
    ref = roster_ref(bytes.fromhex(bundle.roster_key), normalize_id(id_number))
    return bundle.roster_entry(ref)


def as_pass(entry: RosterEntry, now: float) -> VerifiedCode:
    """The roster entry in the shape of a verified pass, so the same rules decide."""
    building, _, rest = entry.household.partition("-")
    unit, _, room = rest.rpartition("-")
    claims = Pass(bytes.fromhex(entry.person_ref), entry.name, entry.building or building,
                  unit or None, room or rest)
    return VerifiedCode(CodeKind.PASS, claims, bytes.fromhex(entry.pass_id), int(now),
                        int(now) + 1, "manual", b"", "manual")


def decide_by_hand(entry: RosterEntry, direction: Direction, state: GateState,
                   now: float, history: History) -> Decision:
    """The policy's word with only the pass required (the volunteer attests the rest);
    what it would only refer, the volunteer's hand admits."""
    policy = state.policy
    requirements = {**policy.requirements,
                    **{w: dict(d) for w, d in policy.requirements.items()}}
    resident = next(w for w in requirements if w.value == "resident")
    requirements[resident] = {Direction.IN: ["pass"], Direction.OUT: ["pass"]}
    # No phone, so no health code: the volunteer checks that by other means and attests.
    relaxed = policy.model_copy(update={
        "requirements": requirements,
        "test": policy.test.model_copy(update={"required_for": []})})
    state = GateState(relaxed, state.buildings, state.revoked, state.clock_trusted,
                      state.data_age_seconds)
    return decide([as_pass(entry, now)], direction, state, now, history)


def summary(entry: RosterEntry, id_number: str, volunteer: str) -> dict:
    """What the log keeps: the roster reference and the ID's first and last two digits."""
    return {"kind": "manual_id", "id": entry.pass_id, "id_masked": mask_id(id_number),
            "attested_by": volunteer}


def admits(decision: Decision) -> bool:
    return decision.outcome is not Outcome.REFUSE
