"""What each gate event kind changes once stored: the table the features fill at start.

The hub's core (hub/effects.py) and each feature (hub/parcels/gate_events.py …) own
their handlers and put them here through their `register(handlers)`; hub/features.py
calls every one of them when a process starts (`hub serve`, `hub gate reapply`, the
benches). hub/ingest.py only asks this table, so it imports no feature. A kind the
hub only keeps is registered as kept; a kind nobody registered is refused at start
(`EventHandlers.check`), never silently dropped at the first event.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from gatehouse.event_payloads import EventPayload
from gatehouse.events import Event, EventKind
from gatehouse.policy import Policy


@dataclass(frozen=True)
class Stored:
    """One event just stored, as its handler gets it (`payload`: read through its kind's
    model). A handler returns the conflicts between gates it found."""

    db: sqlite_utils.Database
    gate: str
    event: Event
    payload: EventPayload
    received_at: float
    policy: Policy


Handler = Callable[[Stored], int]


class EventHandlers:
    def __init__(self) -> None:
        self._handlers: dict[EventKind, Handler] = {}
        self._kept: set[EventKind] = set()

    def handle(self, kind: EventKind, handler: Handler) -> None:
        """`handler` runs for every stored event of `kind`, in the batch's transaction."""
        self._claim(kind)
        self._handlers[kind] = handler

    def keep(self, *kinds: EventKind) -> None:
        """Kept in gate_events (the timeline, the overview's counts), changing nothing."""
        for kind in kinds:
            self._claim(kind)
            self._kept.add(kind)

    def _claim(self, kind: EventKind) -> None:
        if kind in self._handlers or kind in self._kept:
            raise ValueError(f"event kind {kind.value!r} registered twice")

    @property
    def handled(self) -> frozenset[EventKind]:
        return frozenset(self._handlers)

    @property
    def kept(self) -> frozenset[EventKind]:
        return frozenset(self._kept)

    def check(self) -> EventHandlers:
        """Every kind a gate may send is handled or kept: a ValueError names the rest."""
        missing = set(EventKind) - self._handlers.keys() - self._kept
        if missing:
            raise ValueError("no handler registered for event kinds "
                             + ", ".join(sorted(k.value for k in missing)))
        return self

    def apply(self, db: sqlite_utils.Database, gate: str, e: Event, p: EventPayload,
              received_at: float, policy: Policy) -> int:
        """What one stored event changes; returns the conflicts between gates it found."""
        handler = self._handlers.get(e.kind)
        if handler is None:
            if e.kind in self._kept:
                return 0
            # A table nobody checked: the event is stored with an event_not_applied
            # alert (`hub gate reapply` later), never dropped without a word.
            raise LookupError(f"no handler registered for {e.kind.value!r}")
        return handler(Stored(db, gate, e, p, received_at, policy))
