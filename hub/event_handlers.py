"""The hub's one table of what each gate event kind changes once stored.

The core (hub/effects.py: passages, alerts, conflicts, visitors) and each feature
(hub/parcels/gate_events.py) hold their handlers; this module only puts them together,
so hub/ingest.py imports no feature. A new event kind: its payload model in
gatehouse/event_payloads.py, its handler beside its feature, one line here — or
`STORED_ONLY` when the hub only keeps it (tests/test_event_handlers.py holds to this).
"""
from __future__ import annotations

import sqlite_utils

from gatehouse.event_payloads import EventPayload
from gatehouse.events import Event, EventKind
from gatehouse.policy import Policy
from hub import effects
from hub.effects import Handler, Stored
from hub.parcels import gate_events as parcels

HANDLERS: dict[EventKind, Handler] = {**effects.CORE, **parcels.HANDLERS}
assert len(HANDLERS) == len(effects.CORE) + len(parcels.HANDLERS), "a kind handled twice"

# Kept in gate_events (the timeline, the overview's counts) and changing nothing else.
STORED_ONLY = frozenset({EventKind.EXIT_REQUEST, EventKind.STOPPED, EventKind.VOLUNTEER,
                         EventKind.DIRECTION, EventKind.COURIER_SESSION})


def apply(db: sqlite_utils.Database, gate: str, e: Event, p: EventPayload,
          received_at: float, policy: Policy) -> int:
    """What one stored event changes; returns the conflicts between gates it found."""
    handler = HANDLERS.get(e.kind)
    return handler(Stored(db, gate, e, p, received_at, policy)) if handler else 0
