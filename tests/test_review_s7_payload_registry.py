"""H7-5: the payload models' `kind=` registry (gatehouse/event_payloads.py, bf75c72).

What holds (passes): a second model for a kind is refused at class creation, through
pydantic's create_model too; a subclass of a kind's model registers nothing and the
kiosk's to_wire refuses an instance of it.

What does not (Failed at 25c1833, before the fix):
- PAYLOADS is a plain module-level dict: any module imported later replaces a kind's
  model with one line (`PAYLOADS[EventKind.CAMERA] = Anything`, the very line the old
  docstring told a developer to write: "its line in PAYLOADS"), no error, and from then
  on the hub reads that kind through it (a `camera` of state "melted" and lost_for_s -5
  is stored and handled instead of quarantined).
- Nothing at a process's start checks that every EventKind has a model: the hub's
  start check (EventHandlers.check) covers handlers only. A kind whose model is not in
  PAYLOADS in that process (its module not imported there, or removed as above) passes
  the start check; its first event then fails ingest with a KeyError that is not a
  PayloadError, and the *whole message* is quarantined: the other events of that batch
  (here an entry attempt) are not stored either, and not acknowledged.

"""
from __future__ import annotations

import time
import uuid

import pytest
from pydantic import create_model

from gatehouse import event_payloads, topics
from gatehouse.event_payloads import PAYLOADS, CameraPayload, EventPayload, to_wire
from gatehouse.events import Event, EventBatch, EventKind, dump
from hub.features import event_handlers
from hub.ingest import Incoming, ingest


@pytest.fixture
def restore_payloads():
    saved = dict(PAYLOADS)
    yield
    if isinstance(PAYLOADS, dict):     # main's plain dict; a read-only one needs nothing
        PAYLOADS.clear()
        PAYLOADS.update(saved)


def test_what_holds():
    with pytest.raises(TypeError, match="camera already has its model"):
        class Second(EventPayload, kind=EventKind.CAMERA):
            pass
    with pytest.raises(TypeError, match="camera already has its model"):
        create_model("Third", __base__=CameraPayload,
                     __cls_kwargs__={"kind": EventKind.CAMERA})

    class Sub(CameraPayload):
        pass
    assert PAYLOADS[EventKind.CAMERA] is CameraPayload
    with pytest.raises(TypeError, match="not a Sub"):
        to_wire(EventKind.CAMERA, Sub(state="lost"))


def test_a_module_imported_later_replaces_a_kinds_model_silently(restore_payloads):
    class Anything(EventPayload):
        pass
    with pytest.raises(TypeError):
        PAYLOADS[EventKind.CAMERA] = Anything   # the registry bypassed in one line
    # (and from here on a camera of state "melted" would be read through Anything)


def _batch(gate: str, *events: Event) -> Incoming:
    return Incoming(topics.gate_events(gate),
                    dump(EventBatch(gate=gate, sent_at=time.time(), events=list(events))),
                    time.time())


def test_a_kind_without_its_model_passes_the_start_check_then_drops_its_batch(
        compound, restore_payloads):
    try:
        del PAYLOADS[EventKind.CAMERA]          # its model not imported in this process
    except TypeError:
        return                                  # a read-only registry: cannot happen
    handlers = event_handlers()                 # the hub's start check: passes
    compound.db["gates"].insert({"id": "north", "name": "north"})
    now = time.time()
    entry = Event(seq=1, id=uuid.uuid4().hex, kind="attempt", at=now,
                  payload={"direction": "in", "outcome": "admit"})
    cam = Event(seq=2, id=uuid.uuid4().hex, kind="camera", at=now,
                payload={"state": "lost"})
    r = ingest(compound.db, [_batch("north", entry, cam)],
               compound.build_bundle(1, int(now)).policy, handlers)
    reason = compound.db.execute("select reason from quarantine").fetchone()
    print("\nquarantined:", reason, "stored:", r.stored, "acks:", r.acks)
    # The entry attempt is sound: it should be stored and acknowledged whatever its
    # neighbour is (hub/ingest.py's own rule: one bad event is set aside alone).
    assert r.stored >= 1
