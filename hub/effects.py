"""What a stored gate event changes: alerts, conflicts between gates, parcels, visitors.

hub/ingest.py stores each event and its passage, then calls `apply` with the payload
already read through its kind's model (gatehouse/event_payloads.py), inside a
savepoint: an exception here leaves the event stored and raises `event_not_applied`.
"""
from __future__ import annotations

import json
import time

from gatehouse.event_payloads import (
    AttemptPayload,
    DoorForcedPayload,
    DoorHeldPayload,
    EventPayload,
    OverridePayload,
    ParcelPayload,
    ParcelVoidPayload,
    PickupPayload,
    StartedPayload,
    VisitorPayload,
)
from gatehouse.events import Event
from gatehouse.policy import BuildingStatus, Outcome, Policy
from hub.alert_kinds import AlertKind
from hub.parcels import handout, intake
from hub.store import add_alert as _alert
from hub.store import building_status_at

VISITOR_HOURS = 4  # a walk-in's registration is valid this long


def apply(db, gate: str, e: Event, p: EventPayload, received_at: float,
          policy: Policy) -> int:
    """What one stored event changes (`p`: its payload, read through its kind's model):
    passages' alerts and conflicts, parcels, visitors. Returns the conflicts found."""
    if isinstance(p, AttemptPayload):
        if p.alert:
            _alert(db, e.at, gate, AlertKind.of_attempt(p.reasons), e.id,
                   {"name": p.name, "household": p.household})
        if p.outcome is Outcome.ADMIT and p.person_ref:
            return _conflicts(db, e.id, policy)
    elif isinstance(p, (DoorForcedPayload, DoorHeldPayload)):
        _alert(db, e.at, gate, AlertKind(e.kind.value), e.id, {})
    elif isinstance(p, StartedPayload) and p.pins == "mock" and p.role != "parcels":
        _alert(db, e.at, gate, AlertKind.MOCK_PINS, e.id, {})   # a gate that drives no door
    elif isinstance(p, ParcelPayload) and p.waybill and p.id:
        # Slotted now, inside the write lock: after any move that freed a slot.
        intake.receive(db, gate, p, e.at, max(received_at, time.time()))
    elif isinstance(p, ParcelVoidPayload) and p.parcel:
        intake.void(db, p.parcel, gate, e.at, f"{gate}/{p.by}")
    elif isinstance(p, PickupPayload):
        handout.pickup_event(db, gate, e.id, p, e.at)
    elif isinstance(p, VisitorPayload):
        db["visitors"].insert({  # a walk-in registered at the gate, masked there
            "name": p.name, "phone": p.phone, "host_household": p.host_household,
            "from_at": int(e.at), "until_at": int(e.at) + VISITOR_HOURS * 3600,
            "purpose": p.purpose, "created_at": int(received_at),
            "created_by": f"{gate}/{p.by}"})
    elif isinstance(p, OverridePayload) and p.attempt_id:
        override(db, gate, p)
    return 0


def override(db, gate: str, p: OverridePayload) -> None:
    """A volunteer's decision on a referred attempt of the same gate."""
    if p.outcome in ("admit", "refuse"):
        db.execute("update passages set outcome = ? where event_id = ? and gate = ?",
                   [p.outcome, p.attempt_id, gate])


def _conflicts(db, event_id: str, policy: Policy) -> int:
    """Passback across gates and exit quotas spent twice, judged on the gates' times."""
    found = 0
    row = next(db.query("select * from passages where event_id = ?", [event_id]))
    neighbours = ("select * from passages where person_ref = ? and outcome = 'admit' "
                  "and event_id != ? and at {op} ? order by at {order} limit 1")
    for op, order in (("<=", "desc"), (">=", "asc")):
        other = next(db.query(neighbours.format(op=op, order=order),
                              [row["person_ref"], event_id, row["at"]]), None)
        if other and other["direction"] == row["direction"] and other["gate"] != row["gate"]:
            found += _conflict(db, row["at"], "passback_across_gates", row,
                               [other["event_id"], event_id],
                               {"gates": sorted({row["gate"], other["gate"]}),
                                "direction": row["direction"]})
    if row["direction"] == "out" and row["household"] and \
            building_status_at(db, row["building"], row["at"]) is BuildingStatus.PRECAUTION:
        q = policy.quota
        key, value = ("household", row["household"]) if q.scope == "household" else \
            ("person_ref", row["person_ref"])
        exits = [r["event_id"] for r in db.query(
            f"select event_id from passages where {key} = ? and direction = 'out' and "
            "outcome = 'admit' and at > ? and at <= ? order by at",
            [value, row["at"] - q.period_hours * 3600, row["at"]])]
        if len(exits) > q.exits:
            found += _conflict(db, row["at"], "quota_exceeded", row, exits,
                               {"allowed": q.exits, "used": len(exits), "scope": q.scope})
    return found


def _conflict(db, at: float, kind: str, row: dict, event_ids: list[str], detail: dict) -> int:
    ids = json.dumps(sorted(event_ids))
    if next(db.query("select 1 from conflicts where kind = ? and event_ids = ?", [kind, ids]),
            None):
        return 0
    db["conflicts"].insert({"at": at, "kind": kind, "person_ref": row["person_ref"],
                            "household": row["household"], "event_ids": ids,
                            "detail": json.dumps(detail, ensure_ascii=False)})
    _alert(db, at, row["gate"], AlertKind.conflict(kind), row["event_id"], detail)
    return 1
