"""Hub ingest rules that no single gate can break: order, ownership, times."""
import json
import time
import uuid

from gatehouse import topics
from gatehouse.events import Event, EventBatch, dump
from hub.features import event_handlers
from hub.ingest import Incoming, ingest

HANDLERS = event_handlers()  # every feature's, as a hub process registers them at start


def batch(gate, *events):
    return Incoming(topics.gate_events(gate), dump(EventBatch(gate=gate, sent_at=time.time(),
                                                              events=list(events))),
                    time.time())


def attempt(seq, outcome="refer", **payload):
    return Event(seq=seq, id=uuid.uuid4().hex, kind="attempt", at=time.time(),
                 payload={"direction": "in", "outcome": outcome, "person_ref": "ab" * 12,
                          "household": "7-302", "building": "7", **payload})


def override(seq, attempt_id, outcome="admit"):
    return Event(seq=seq, id=uuid.uuid4().hex, kind="override", at=time.time(),
                 payload={"attempt_id": attempt_id, "outcome": outcome, "by": "v001"})


def outcome_of(db, event_id):
    return next(db.query("select outcome from passages where event_id = ?", [event_id]))["outcome"]


def setup(compound):
    for g in ("gate-a", "gate-b"):
        compound.db["gates"].insert({"id": g, "name": g})
    return compound.db, compound.build_bundle(1, int(time.time())).policy


def test_a_volunteers_decision_that_arrives_before_its_attempt_still_counts(compound):
    db, policy = setup(compound)
    a = attempt(1)
    ingest(db, [batch("gate-a", override(2, a.id))], policy, HANDLERS)   # new events first…
    ingest(db, [batch("gate-a", a)], policy, HANDLERS)                    # …the backlog after
    assert outcome_of(db, a.id) == "admit"


def test_a_gate_cannot_change_another_gates_passages(compound):
    db, policy = setup(compound)
    a = attempt(1)
    ingest(db, [batch("gate-a", a)], policy, HANDLERS)
    ingest(db, [batch("gate-b", override(1, a.id, "admit"))], policy, HANDLERS)
    assert outcome_of(db, a.id) == "refer"
    ingest(db, [batch("gate-a", override(2, a.id, "whatever"))], policy, HANDLERS)
    assert outcome_of(db, a.id) == "refer"


def test_impossible_times_are_quarantined(compound):
    db, policy = setup(compound)
    good = attempt(1)
    for bad_at in ("NaN", "1e300", "12"):
        raw = json.loads(dump(EventBatch(gate="gate-a", sent_at=1.0, events=[good])))
        raw["events"][0]["at"] = bad_at
        text = json.dumps(raw).replace(f'"{bad_at}"', bad_at)
        result = ingest(db, [Incoming(topics.gate_events("gate-a"), text.encode(), 1.0)],
                        policy, HANDLERS)
        assert result.quarantined == 1 and result.stored == 0


def test_one_broken_event_is_set_aside_and_the_rest_of_its_batch_goes_in(compound):
    db, policy = setup(compound)
    events = [attempt(1), attempt(2), attempt(3)]
    raw = json.loads(dump(EventBatch(gate="gate-a", sent_at=1.0, events=events)))
    raw["events"][1]["kind"] = "teleport"            # a kind this hub does not know
    result = ingest(db, [Incoming(topics.gate_events("gate-a"), json.dumps(raw).encode(),
                                  1.0)], policy, HANDLERS)
    assert (result.stored, result.quarantined) == (2, 1)
    stored = {r["id"] for r in db.query("select id from gate_events")}
    assert stored == {events[0].id, events[2].id}
    row = next(db.query("select reason, payload from quarantine"))
    assert row["reason"].startswith("event 2: kind") and b"teleport" in row["payload"]
    # All three are acknowledged: the gate stops resending the batch.
    (gate, ack), = result.acks
    assert gate == "gate-a" and ack.ranges == [(1, 3)]


def test_an_event_whose_effects_fail_is_kept_and_raises_an_alert(compound, monkeypatch):
    db, policy = setup(compound)
    from hub.parcels import handout

    def broken(*a, **k):
        raise RuntimeError("a bug")
    monkeypatch.setattr(handout, "pickup_event", broken)
    pickup = Event(seq=2, id=uuid.uuid4().hex, kind="pickup", at=time.time(),
                   payload={"waybill": "X", "outcome": "taken"})
    forced = Event(seq=1, id=uuid.uuid4().hex, kind="door_forced", at=time.time(), payload={})
    result = ingest(db, [batch("gate-a", forced, pickup)], policy, HANDLERS)
    assert result.stored == 2 and result.quarantined == 0 and result.acks
    alert = next(db.query("select * from alerts where kind = 'event_not_applied'"))
    assert alert["event_id"] == pickup.id and "a bug" in alert["detail"]
    # The other event's effects stand: the forced door reaches the office.
    assert db["alerts"].count_where("kind = 'door_forced' and event_id = ?", [forced.id]) == 1


def test_an_event_that_failed_is_applied_again_once_the_cause_is_gone(compound, monkeypatch):
    db, policy = setup(compound)
    from hub import ingest as ingest_module
    from hub.parcels import handout
    real = handout.pickup_event

    def broken(*a, **k):
        raise RuntimeError("a bug")
    monkeypatch.setattr(handout, "pickup_event", broken)
    db.execute("update gates set role = 'parcels' where id = 'gate-a'")
    pickup = Event(seq=1, id=uuid.uuid4().hex, kind="pickup", at=time.time(),
                   payload={"outcome": "codes_paused", "wrong_codes": 5})
    ingest(db, [batch("gate-a", pickup)], policy, HANDLERS)
    assert ingest_module.reapply(db, policy, HANDLERS, time.time()) == (0, 1)   # still broken
    monkeypatch.setattr(handout, "pickup_event", real)                 # the fix
    assert ingest_module.reapply(db, policy, HANDLERS, time.time()) == (1, 0)
    assert db["alerts"].count_where("kind = 'pickup_codes_paused'") == 1
    assert ingest_module.reapply(db, policy, HANDLERS, time.time()) == (0, 0)    # once only
