"""Parcels at the hub (first slice of issue 7): one parcel per waybill, and only the
state changes the table allows, each leaving an event."""
import time
import uuid

import pytest

from gatehouse import topics
from gatehouse.event_payloads import ParcelPayload
from gatehouse.events import Event, EventBatch, dump
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.parcels.intake import receive
from hub.parcels.states import ALLOWED, ParcelError, ParcelState, move

HANDLERS = event_handlers()  # every feature's, as a hub process registers them at start

STATES = list(ParcelState)


def parcel_in(db, state: ParcelState) -> str:
    pid = uuid.uuid4().hex
    receive(db, "gate-a", ParcelPayload(id=pid, waybill=f"SF{uuid.uuid4().int % 10**13:013d}"),
            time.time())
    db["parcels"].update(pid, {"state": state.value})
    return pid


@pytest.mark.parametrize("before", STATES, ids=[s.value for s in STATES])
def test_every_move_is_allowed_or_refused_by_the_table(compound, before):
    db = compound.db
    for after in STATES:
        pid = parcel_in(db, before)
        if after in ALLOWED[before]:
            move(db, pid, after, time.time(), "v001", "parcel-area")
            assert next(db.query("select state from parcels where id = ?", [pid]))["state"] \
                == after.value
            last = next(db.query("select * from parcel_events where parcel = ? "
                                 "order by id desc limit 1", [pid]))
            assert (last["state_from"], last["state_to"], last["actor"]) == (
                before.value, after.value, "v001")
        else:
            with pytest.raises(ParcelError, match=f"{before.value} cannot become {after.value}"):
                move(db, pid, after, time.time(), "v001")
            assert next(db.query("select state from parcels where id = ?", [pid]))["state"] \
                == before.value


def test_final_states_have_no_way_out():
    assert all(not ALLOWED[s] for s in ParcelState if s.final)


def _batch(gate, seq, kind, payload):
    e = Event(seq=seq, id=uuid.uuid4().hex, kind=kind, at=time.time(), payload=payload)
    return Incoming(topics.gate_events(gate),
                    dump(EventBatch(gate=gate, sent_at=time.time(), events=[e])), time.time())


def test_a_waybill_dropped_at_two_gates_is_one_parcel_and_voids_stay_at_their_gate(compound):
    db = compound.db
    for g in ("gate-a", "gate-b"):
        db["gates"].insert({"id": g, "name": g})
    policy = compound.build_bundle(1, int(time.time())).policy
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    ingest(db, [_batch("gate-a", 1, "parcel", {"id": first, "waybill": "SF1234567890123",
                                                "carrier": "sf", "room": "7-302",
                                                "fresh": True, "courier": "赵*"})],
           policy, HANDLERS)
    ingest(db, [_batch("gate-b", 1, "parcel", {"id": second, "waybill": "SF1234567890123"})],
           policy, HANDLERS)
    rows = list(db.query("select * from parcels"))
    assert len(rows) == 1 and rows[0]["id"] == first and rows[0]["fresh"] == 1
    kinds = [r["state_to"] for r in db.query("select state_to from parcel_events order by id")]
    assert kinds == ["received", "duplicate_scan"]
    ingest(db, [_batch("gate-b", 2, "parcel_void", {"parcel": first, "by": "v002"})],
           policy, HANDLERS)
    assert next(db.query("select state from parcels"))["state"] == "received"
    ingest(db, [_batch("gate-a", 2, "parcel_void", {"parcel": first, "by": "v001"})],
           policy, HANDLERS)
    assert next(db.query("select state from parcels"))["state"] == "voided"
