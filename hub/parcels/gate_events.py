"""What the gates' parcel events change at the hub: a courier's drop-off slotted, an
entry undone, a parcel handed out. Handlers per event kind (a `Stored` each, hub/event_handlers.py),
registered at start (hub/features.py)."""
from __future__ import annotations

import time

from gatehouse.event_payloads import ParcelPayload, ParcelVoidPayload, PickupPayload
from gatehouse.events import EventKind
from hub.event_handlers import EventHandlers, Stored
from hub.parcels import handout, intake


def on_parcel(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, ParcelPayload)
    if p.waybill and p.id:
        # Slotted now, inside the write lock: after any move that freed a slot.
        intake.receive(s.db, s.gate, p, s.event.at, max(s.received_at, time.time()))
    return 0


def on_parcel_void(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, ParcelVoidPayload)
    if p.parcel:
        intake.void(s.db, p.parcel, s.gate, s.event.at, f"{s.gate}/{p.by}")
    return 0


def on_pickup(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, PickupPayload)
    handout.pickup_event(s.db, s.gate, s.event.id, p, s.event.at)
    return 0


def register(handlers: EventHandlers) -> None:
    """The parcel events' handlers (hub/features.py)."""
    handlers.handle(EventKind.PARCEL, on_parcel)
    handlers.handle(EventKind.PARCEL_VOID, on_parcel_void)
    handlers.handle(EventKind.PICKUP, on_pickup)
