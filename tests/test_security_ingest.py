"""What a gate's MQTT login can make the hub store, attack by attack (docs/security.md).

Each test replays a message an outside probe sent with a real gate's login, given to
the hub's ingest on a real SQLite file; the broker-level attack (client-id takeover)
runs against a real Mosquitto.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.endpoint import Endpoint
from gatehouse.events import Event, EventBatch, EventKind, dump
from gatehouse.net import close_client
from hub.broker import MAX_PACKET_BYTES
from hub.gate_quota import GateQuota
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.policy_versions import current_policy
from tests.conftest import T0
from tests.processes import wait_until

HANDLERS = event_handlers()  # every feature's, as a hub process registers them at start

GATE = "north"


@pytest.fixture
def db(compound):
    compound.db["gates"].insert({"id": GATE, "name": "北门", "added_at": T0, "online": 0})
    compound.db["gates"].insert({"id": "south", "name": "南门", "added_at": T0, "online": 0})
    return compound.db


def event(seq: int, kind=EventKind.ATTEMPT, at: float = T0, eid: str | None = None,
          **payload) -> dict:
    if kind is EventKind.ATTEMPT:  # what every attempt carries (gatehouse/event_payloads.py)
        payload = {"direction": "in", "outcome": "admit", **payload}
    return {"seq": seq, "id": eid or uuid.uuid4().hex, "kind": kind.value, "at": at,
            "payload": payload}


def batch(*events: dict, v: int = 1, gate: str = GATE) -> bytes:
    return json.dumps({"v": v, "gate": gate, "sent_at": T0, "events": list(events)},
                      ensure_ascii=False).encode()


def send(db, *payloads: bytes, gate: str = GATE, at: float = T0 + 60, quota=GateQuota()):
    return ingest(db, [Incoming(topics.gate_events(gate), p, at) for p in payloads],
                  current_policy(db), HANDLERS, quota=quota)


def stored(db) -> list[dict]:
    return list(db.query("select id, seq, kind, payload from gate_events order by seq"))


def alerts(db, kind: str) -> list[dict]:
    return list(db.query("select * from alerts where kind = ?", [kind]))


def acked(result) -> list[tuple[int, int]]:
    return [r for _, ack in result.acks for r in ack.ranges]


def test_a_batch_of_an_unknown_wire_version_is_refused_not_misread(db):
    r = send(db, batch(event(1, outcome="admit"), v=2))
    assert stored(db) == [] and acked(r) == []
    (q,) = db.query("select reason from quarantine")
    assert "wire version 2" in q["reason"]


def test_the_same_id_with_other_content_reaches_the_office(db):
    eid = uuid.uuid4().hex
    first = event(1, eid=eid, outcome="admit", direction="in")
    send(db, batch(first))
    # The same id again: a refusal, then a forced door. Neither replaces the first.
    r = send(db, batch(event(1, eid=eid, outcome="refuse", direction="in")),
             batch(event(1, EventKind.DOOR_FORCED, eid=eid)))
    assert r.id_conflicts == 2
    assert [json.loads(s["payload"])["outcome"] for s in stored(db)] == ["admit"]
    found = alerts(db, "duplicate_id_conflict")
    assert len(found) == 2 and {json.loads(a["detail"])["kind"] for a in found} == \
        {"attempt", "door_forced"}
    reasons = [q["reason"] for q in db.query("select reason from quarantine")]
    assert len(reasons) == 2 and all(eid in q for q in reasons)
    # A true resend (same content) is a plain duplicate: no alert, acknowledged.
    r = send(db, batch(first))
    assert r.duplicates == 1 and r.id_conflicts == 0 and acked(r) == [(1, 1)]
    assert len(alerts(db, "duplicate_id_conflict")) == 2


def test_a_duplicate_within_one_batch_with_other_content_is_recorded(db):
    eid = uuid.uuid4().hex
    r = send(db, batch(event(1, eid=eid, outcome="admit"), event(2, eid=eid, outcome="refuse")))
    assert r.stored == 1 and r.id_conflicts == 1
    assert len(alerts(db, "duplicate_id_conflict")) == 1


def test_sequence_numbers_counted_again_after_a_restore_are_kept_and_reported(db):
    send(db, batch(*[event(s, EventKind.EXIT_REQUEST) for s in (1, 2, 3)]))
    # The gate's SD card restored from an old image: seq 2.. again, with new ids.
    r = send(db, batch(*[event(s, EventKind.EXIT_REQUEST) for s in (2, 3, 4)]))
    assert r.stored == 3 and len(stored(db)) == 6
    (a,) = alerts(db, "seq_reused")
    assert json.loads(a["detail"]) == {"first": 2, "last": 3, "count": 2}


def test_a_huge_name_is_set_aside_and_the_rest_of_the_batch_goes_in(db):
    r = send(db, batch(event(1, name="张" * 250_000, outcome="admit"),
                       event(2, EventKind.EXIT_REQUEST)))
    assert [s["seq"] for s in stored(db)] == [2]
    assert acked(r) == [(1, 2)]    # set aside with its reason, so the gate stops resending
    (q,) = db.query("select reason, length(payload) as n from quarantine")
    assert "payload" in q["reason"] and q["n"] <= 64 * 1024


@pytest.mark.parametrize("kind,field,value", [
    (EventKind.ATTEMPT, "name", "x" * 65), (EventKind.VISITOR, "phone", "1" * 33),
    (EventKind.ATTEMPT, "reasons", ["r"] * 101), (EventKind.ATTEMPT, "note", "n" * 1001)])
def test_each_field_has_a_limit(db, kind, field, value):
    visitor = {"name": "王*五", "host_household": "7-302"} if kind is EventKind.VISITOR else {}
    send(db, batch(event(1, kind, **{**visitor, field: value})))
    assert stored(db) == []
    (q,) = db.query("select reason from quarantine")
    assert field in q["reason"]


def test_junk_from_one_gate_fills_only_its_own_budget(db, compound):
    size = os.path.getsize(compound.home.hub_db)
    junk = [os.urandom(100 * 1024) for _ in range(300)]
    r = send(db, *junk)
    db.execute("pragma wal_checkpoint(truncate)")
    grown = os.path.getsize(compound.home.hub_db) - size
    assert grown < 4 * 1024 * 1024, f"hub.db grew by {grown / 1e6:.1f} MB"
    assert r.over_quota > 250 and r.quarantined <= 32   # 2 MiB of 64 KiB rows
    (a,) = alerts(db, "gate_quota")
    assert json.loads(a["detail"])["budget"] == "quarantine"
    # Another gate is not touched by that budget, and real events still go in.
    assert send(db, batch(event(1, EventKind.EXIT_REQUEST), gate="south"),
                gate="south").stored == 1
    assert send(db, batch(event(1, EventKind.EXIT_REQUEST))).stored == 1


def test_events_over_the_daily_budget_wait_at_the_gate_and_lose_nothing(db):
    quota = GateQuota(event_bytes=3500)   # ten empty events ~820 bytes, eight notes ~3,140
    first = [event(s, EventKind.EXIT_REQUEST) for s in range(1, 11)]
    assert send(db, batch(*first), quota=quota).stored == 10
    more = [event(s, EventKind.EXIT_REQUEST, note="x" * 300) for s in range(11, 19)]
    r = send(db, batch(*more), quota=quota)
    assert r.stored == 0 and acked(r) == [] and r.over_quota == 1   # kept in the gate's outbox
    assert len(alerts(db, "gate_quota")) == 1
    r = send(db, batch(*more), quota=quota, at=T0 + 86400 + 60)      # the next day
    assert r.stored == 8 and acked(r) == [(11, 18)]


@pytest.mark.parametrize("payload,why", [
    ({"gate": "south", "relay_unlocked": False}, "names gate"),
    ({"at": 4102444800.0, "outcome": "refuse"}, "far from"),            # 2100-01-01
    ({"paused_until": 4102444800.0}, "far from"),
    ({"at": "soon"}, "not a time"),
])
def test_payload_fields_must_agree_with_their_envelope(db, payload, why):
    started = {**event(1, EventKind.STARTED), "payload": payload}  # "at" is the envelope's too
    r = send(db, batch(started, event(2, EventKind.EXIT_REQUEST)))
    assert [s["seq"] for s in stored(db)] == [2] and acked(r) == [(1, 2)]
    (q,) = db.query("select reason from quarantine")
    assert why in q["reason"]


def test_a_real_gate_payload_passes_every_check(db):
    e = Event(seq=1, id=uuid.uuid4().hex, kind=EventKind.ATTEMPT, at=T0, payload={
        "id": "a" * 32, "at": T0, "direction": "in", "outcome": "admit", "name": "张*丰",
        "household": "7-2-302", "building": "7", "reasons": [], "codes": [
            {"kind": "pass", "id": "p1", "expires_at": T0 + 86400 * 20}],
        "alert": False, "policy_version": 3})
    r = ingest(db, [Incoming(topics.gate_events(GATE),
                             dump(EventBatch(gate=GATE, sent_at=T0, events=[e])), T0)],
               current_policy(db), HANDLERS)
    assert r.stored == 1 and r.quarantined == 0


# Over a real Mosquitto -----------------------------------------------------------

class Watched:
    """An MQTT 5 client that counts its own disconnections."""

    def __init__(self, ep: Endpoint, client_id: str):
        self.disconnects = 0
        self.connected = threading.Event()
        c = self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                 protocol=mqtt.MQTTv5)
        c.username_pw_set(ep.username, ep.password)
        c.on_connect = lambda *a: self.connected.set()
        c.on_disconnect = lambda *a: setattr(self, "disconnects", self.disconnects + 1)
        c.connect(ep.host, ep.port)
        c.loop_start()
        wait_until(self.connected.is_set, 5, message=f"{client_id} connected")

    def close(self):
        close_client(self.c)


def test_a_gate_login_cannot_knock_the_hub_or_another_gate_off(compound, broker_proc,
                                                                gate_home):
    gate_home("gate-1")
    gate_home("gate-2")
    hub_ep = Endpoint.read(compound.home.hub_mqtt)
    ep1, ep2 = (Endpoint.read(compound.home.root.parent / f"kiosk-gate-{n}" / "kiosk" /
                              "mqtt.json") for n in (1, 2))
    hub, gate2 = Watched(hub_ep, "gatehouse-hub"), Watched(ep2, "gate-gate-2")
    made = []
    try:
        # gate-1's login takes the hub's and gate-2's client ids, again and again.
        for cid in ("gatehouse-hub", "gate-gate-2", "hub", "gate-2") * 2:
            made.append(Watched(ep1, cid))
        time.sleep(1.0)
        assert hub.disconnects == 0 and gate2.disconnects == 0
    finally:
        for c in (hub, gate2, *made):
            c.close()


def test_the_broker_refuses_a_message_over_the_wire_limit(compound, broker_proc, gate_home):
    gate_home("gate-1")
    ep = Endpoint.read(compound.home.root.parent / "kiosk-gate-1" / "kiosk" / "mqtt.json")
    hub = Watched(Endpoint.read(compound.home.hub_mqtt), "hub")
    got: list[int] = []
    hub.c.on_message = lambda c, u, m: got.append(len(m.payload))
    hub.c.subscribe(topics.gate_events("gate-1"), qos=1)
    try:
        time.sleep(0.3)
        for size in (MAX_PACKET_BYTES + 1, 7 * 1024 * 1024, 1000):
            sender = Watched(ep, "gate-1")
            sender.c.publish(topics.gate_events("gate-1"), b"x" * size, qos=0)
            time.sleep(0.5)
            sender.close()
        wait_until(lambda: 1000 in got, 10, message="the small message")
        time.sleep(0.3)
        assert got == [1000]
    finally:
        hub.close()


# Found by the review of these fixes (each once made a gate's events vanish or pile up) --

def test_a_number_that_is_not_finite_is_set_aside_and_the_gate_syncs_on(db):
    poison = b'{"v":1,"gate":"north","sent_at":1,"events":[{"seq":1,"id":"' + \
        uuid.uuid4().hex.encode() + b'","kind":"override","at":' + str(T0).encode() + \
        b',"payload":{"attempt_id":"x","score":NaN}}]}'
    r = send(db, poison)
    assert stored(db) == [] and acked(r) == [(1, 1)]
    (q,) = db.query("select reason from quarantine")
    assert "not finite" in q["reason"]
    # Later attempts of that gate still go in (a NaN row once broke every json_extract).
    r = send(db, batch(event(2, outcome="admit"), event(3, outcome="admit")))
    assert r.stored == 2 and acked(r) == [(2, 3)]


def test_the_longest_payloads_a_kiosk_writes_pass_the_limits(db):
    household = "B" * 12 + "-" + "U" * 12 + "-" + "R" * 12       # room from the pass
    r = send(db, batch(event(1, EventKind.PARCEL, id="p" * 32, waybill="SF" + "1" * 38,
                             room=household, household=household, courier="赵" * 64,
                             company="顺" * 64, session="s" * 32, fresh=True, frozen=False),
                       event(2, EventKind.VISITOR, name="王" * 40, phone="1" * 20,
                             host_household=household, purpose="p" * 60, by="v" * 40)))
    assert r.quarantined == 0 and acked(r) == [(1, 2)]


def test_an_id_conflict_is_acknowledged_only_once_its_content_is_kept(db):
    eid = uuid.uuid4().hex
    send(db, batch(event(1, eid=eid, outcome="admit")))
    full = GateQuota(quarantine_rows=0)
    r = send(db, batch(event(1, EventKind.DOOR_FORCED, eid=eid), event(2, EventKind.EXIT_REQUEST)),
             quota=full)
    assert acked(r) == [(2, 2)]          # the conflicting one stays at the gate
    r = send(db, batch(event(1, EventKind.DOOR_FORCED, eid=eid)))
    assert acked(r) == [(1, 1)] and db.execute("select count(*) from quarantine").fetchone()[0] == 1


def test_an_id_first_used_by_another_gate_keeps_this_gates_event(db):
    eid = uuid.uuid4().hex
    send(db, batch(event(7, eid=eid, outcome="refuse"), gate="south"), gate="south")
    r = send(db, batch(event(7, eid=eid, outcome="admit")))
    assert acked(r) == [(7, 7)]
    (q,) = db.query("select gate, payload from quarantine")
    assert q["gate"] == GATE and json.loads(q["payload"])["payload"]["outcome"] == "admit"
    assert len(alerts(db, "duplicate_id_conflict")) == 1


def test_a_message_over_the_hubs_limit_is_refused_whole(db):
    big = batch(*[event(s, EventKind.EXIT_REQUEST, note="x" * 999, more="y" * 999)
                  for s in range(1, 500)],
                {"seq": 500, "broken": True})
    assert len(big) > 1024 * 1024
    r = send(db, big)
    assert stored(db) == [] and acked(r) == []


def test_a_flood_of_offline_messages_is_one_alert(db):
    msgs = [Incoming(topics.gate_status(GATE), topics.ONLINE, T0)] + \
        [Incoming(topics.gate_status(GATE), topics.OFFLINE, T0 + 1 + i / 1000) for i in range(500)]
    ingest(db, msgs, current_policy(db), HANDLERS)
    assert len(alerts(db, "gate_offline")) == 1


def test_the_event_budget_counts_bytes_not_characters(db):
    quota = GateQuota(event_bytes=15_000)   # ~4,900 characters, ~18,400 bytes
    r = send(db, batch(*[event(s, EventKind.EXIT_REQUEST, note="𝄞" * 900) for s in range(1, 6)]),
             quota=quota)
    assert r.stored == 0 and r.over_quota == 1     # 5 x 3.6 KB of 4-byte characters
