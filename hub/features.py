"""The hub's parts that react to gate events, in the order they register at start.

Each module here has `register(handlers)`: it puts its own handlers (and the kinds it
only keeps) in the table hub/ingest.py asks. A new hub feature that reacts to gate
events is one line in `FEATURES`; a new event kind of an existing feature is a line in
that feature's own `register` (docs/architecture.md, "Adding an event kind").
"""
from __future__ import annotations

from hub import camera_outages, effects
from hub.event_handlers import EventHandlers
from hub.parcels import gate_events as parcels

FEATURES = (effects, parcels, camera_outages)


def event_handlers() -> EventHandlers:
    """A full table, checked: every event kind a gate may send is handled or kept."""
    handlers = EventHandlers()
    for feature in FEATURES:
        feature.register(handlers)
    return handlers.check()
