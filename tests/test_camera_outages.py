"""A gate's camera lost and back, at the hub (hub/camera_outages.py): the office sees one
open alert per blind gate, which the gate's own `back` event closes with how long it
was blind; a camera that comes and goes reopens it (tests/test_review_s7_camera_*.py:
events out of order, a flapping camera)."""
from __future__ import annotations

import time
import uuid

from gatehouse import topics
from gatehouse.events import Event, EventBatch, dump
from hub.alert_kinds import label_of
from hub.features import event_handlers
from hub.ingest import Incoming, ingest

HANDLERS = event_handlers()
T0 = time.time() - 3600


def camera(seq: int, state: str, at: float, **more) -> Event:
    return Event(seq=seq, id=uuid.uuid4().hex, kind="camera", at=at,
                 payload={"state": state, **more})


def send(compound, gate: str, *events: Event):
    msg = Incoming(topics.gate_events(gate),
                   dump(EventBatch(gate=gate, sent_at=time.time(), events=list(events))),
                   time.time())
    return ingest(compound.db, [msg], compound.build_bundle(1, int(T0)).policy, HANDLERS)


def camera_alerts(db) -> list[tuple]:
    return [(a["gate"], a["acked_by"], a["note"], a["detail"]) for a in db.query(
        "select * from alerts where kind = 'camera_lost' order by id")]


def test_a_lost_camera_is_one_open_alert_until_the_gate_says_it_is_back(compound):
    for gate in ("north", "south"):
        compound.db["gates"].insert({"id": gate, "name": gate})
    send(compound, "north", camera(1, "lost", T0, problem="FileNotFoundError: /dev/video0"))
    assert camera_alerts(compound.db) == [
        ("north", None, None, '{"problem": "FileNotFoundError: /dev/video0"}')]
    assert label_of("camera_lost") != "camera_lost"          # the office reads words
    # It comes and goes (a loose cable): the same alert reopened, not a new one (nor a new
    # message to the office); another gate has its own.
    send(compound, "north", camera(2, "back", T0 + 5, lost_for_s=5.0))
    assert [(g, by) for g, by, _, _ in camera_alerts(compound.db)] == [("north", "gate")]
    send(compound, "north", camera(3, "lost", T0 + 8, problem="stopped delivering frames"))
    send(compound, "south", camera(1, "lost", T0 + 9))
    assert [(g, by) for g, by, _, _ in camera_alerts(compound.db)] == [
        ("north", None), ("south", None)]
    send(compound, "north", camera(4, "back", T0 + 600, lost_for_s=592.0))
    alerts = camera_alerts(compound.db)
    assert [(g, by, note) for g, by, note, _ in alerts] == [
        ("north", "gate", "camera back after 592 s"), ("south", None, None)]
    # Lost again long after (a new outage): a new alert.
    send(compound, "north", camera(5, "lost", T0 + 1300))
    assert [(g, by) for g, by, _, _ in camera_alerts(compound.db)] == [
        ("north", "gate"), ("south", None), ("north", None)]


def test_a_back_with_no_open_alert_changes_nothing_and_bad_states_are_set_aside(compound):
    compound.db["gates"].insert({"id": "north", "name": "north"})
    r = send(compound, "north", camera(1, "back", T0, lost_for_s=3.0))
    assert r.stored == 1 and camera_alerts(compound.db) == []
    r = send(compound, "north", camera(2, "melted", T0 + 1))
    assert (r.stored, r.quarantined) == (0, 1)
    (q,) = compound.db.query("select reason from quarantine")
    assert "camera: state: " in q["reason"]
