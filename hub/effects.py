"""What a stored gate event changes on the passages side: alerts, conflicts between
gates, visitors, volunteers' decisions. One handler per event kind (`register`).

hub/ingest.py stores each event and its passage, then calls the handler of its kind
(hub/event_handlers.py, filled at start by hub/features.py) with the payload already
read through its kind's model (gatehouse/event_payloads.py), inside a savepoint: an exception there leaves the event
stored and raises `event_not_applied`.
"""
from __future__ import annotations

import json

from gatehouse.event_payloads import (
    AttemptPayload,
    OverridePayload,
    StartedPayload,
    VisitorPayload,
)
from gatehouse.events import EventKind
from gatehouse.policy import BuildingStatus, Outcome, Policy
from hub.alert_kinds import AlertKind
from hub.alert_log import add_alert as _alert
from hub.building_status import building_status_at
from hub.event_handlers import EventHandlers, Stored

VISITOR_HOURS = 4  # a walk-in's registration is valid this long


def on_attempt(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, AttemptPayload)
    if p.alert:
        _alert(s.db, s.event.at, s.gate, AlertKind.of_attempt(p.reasons), s.event.id,
               {"name": p.name, "household": p.household})
    if p.outcome is Outcome.ADMIT and p.person_ref:
        return _conflicts(s.db, s.event.id, s.policy)
    return 0


def on_door_alarm(s: Stored) -> int:
    _alert(s.db, s.event.at, s.gate, AlertKind(s.event.kind.value), s.event.id, {})
    return 0


def on_started(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, StartedPayload)
    if p.pins == "mock" and p.role != "parcels":   # a gate that drives no door
        _alert(s.db, s.event.at, s.gate, AlertKind.MOCK_PINS, s.event.id, {})
    return 0


def on_visitor(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, VisitorPayload)
    s.db["visitors"].insert({  # a walk-in registered at the gate, masked there
        "name": p.name, "phone": p.phone, "host_household": p.host_household,
        "from_at": int(s.event.at), "until_at": int(s.event.at) + VISITOR_HOURS * 3600,
        "purpose": p.purpose, "created_at": int(s.received_at),
        "created_by": f"{s.gate}/{p.by}"})
    return 0


def on_override(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, OverridePayload)
    if p.attempt_id:
        override(s.db, s.gate, p)
    return 0


def register(handlers: EventHandlers) -> None:
    """What the passages side of the hub does per event kind (hub/features.py)."""
    handlers.handle(EventKind.ATTEMPT, on_attempt)
    handlers.handle(EventKind.DOOR_FORCED, on_door_alarm)
    handlers.handle(EventKind.DOOR_HELD, on_door_alarm)
    handlers.handle(EventKind.STARTED, on_started)
    handlers.handle(EventKind.VISITOR, on_visitor)
    handlers.handle(EventKind.OVERRIDE, on_override)
    # Kept in gate_events (the timeline, the overview's counts), changing nothing else.
    handlers.keep(EventKind.EXIT_REQUEST, EventKind.STOPPED, EventKind.VOLUNTEER,
                  EventKind.DIRECTION, EventKind.COURIER_SESSION)


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
        key, value = q.counted_by(row["person_ref"], row["household"])
        exits = [r["event_id"] for r in db.query(
            f"select event_id from passages where {key} = ? and direction = 'out' and "
            "outcome = 'admit' and at > ? and at <= ? order by at",
            [value, q.window_start(row["at"]), row["at"]])]
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
