"""A parcel walks through the hub in one direction (issue 13): from the gate's batch
to a slot on the shelf and into the parcel area's manifest, no hub module calls back
into one below it on the stack, and ingest imports no feature (docs/architecture.md)."""
from __future__ import annotations

import time
import uuid

from gatehouse import topics
from gatehouse.events import Event, EventBatch, dump
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.parcels import manifest
from hub.parcels.intake import place_waiting
from hub.parcels.shelving import Shelf, define_shelf
from tests.call_walk import bounces, calls_while

def walk_stats(calls) -> dict[str, int]:
    """Module-to-module hops (a call whose caller is another hub module), modules."""
    hops = sum(1 for m, _, below in calls if below and below[0] != m)
    return {"calls": len(calls), "hops": hops, "modules": len({m for m, _, _ in calls})}


def test_a_parcel_walks_from_the_gate_to_the_manifest_in_one_direction(compound):
    db = compound.db
    db["gates"].insert({"id": "north", "name": "north"})
    define_shelf(db, Shelf("A", "", 4, 20, False, ()))
    policy = compound.build_bundle(1, int(time.time())).policy
    now = time.time()
    e = Event(seq=1, id=uuid.uuid4().hex, kind="parcel", at=now, payload={
        "id": uuid.uuid4().hex, "waybill": "SF1234567890123", "room": "7-302",
        "courier": "赵*", "company": "顺丰速运"})
    batch = Incoming(topics.gate_events("north"),
                     dump(EventBatch(gate="north", sent_at=now, events=[e])), now)

    handlers = event_handlers()   # registered at start, before any event arrives
    calls = calls_while("hub", lambda: (ingest(db, [batch], policy, handlers),
                                     place_waiting(db, now + 1),
                                     manifest.build(db, now + 2)))
    shelf = manifest.build(db, now + 2)
    assert [p.waybill for p in shelf.parcels] == ["SF1234567890123"]
    assert bounces(calls) == []
    # the core hands the event to the parcels feature; the feature never calls the core's
    # ingest back
    core = ("ingest.py", "effects.py", "event_handlers.py")
    assert not [m for m, _, below in calls
                if m in core and any(b.startswith("parcels/") for b in below)]
    print("parcel walk at the hub:", walk_stats(calls))
