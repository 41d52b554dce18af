"""Event payloads on the wire: what gates in the field send is still understood at the hub,
and what does not fit its kind's model is set aside with a reason naming kind and key.

tests/data/events_v1.jsonl holds one event of every kind (and each form of `pickup`)
as the kiosk sent them before payloads had models; events_v2.jsonl as today's kiosk
sends them (with `camera`, new since); both recorded through the kiosk's real code paths
by tests/event_recorder.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatehouse import topics
from gatehouse.event_payloads import (
    PAYLOADS,
    ParcelPayload,
    PayloadError,
    VisitorPayload,
    read_payload,
    to_wire,
)
from gatehouse.events import WIRE_VERSION, EventKind
from hub.alert_kinds import AlertKind, label_of
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.policy_versions import current_policy
from tests.event_recorder import record

DATA = Path(__file__).parent / "data"
RECORDED = {v: [json.loads(line) for line in (DATA / f"events_{v}.jsonl").read_text()
                 .splitlines()] for v in ("v1", "v2")}
V1, LINES = RECORDED["v1"], RECORDED["v2"]   # gates in the field; today's kiosk


@pytest.fixture
def hub(compound):
    for gate, role in {(line["gate"], line["role"]) for line in V1 + LINES}:
        compound.db["gates"].insert({"id": gate, "name": gate, "added_at": 0, "online": 0,
                                     "role": role})
    return compound.db


def send(db, lines: list[dict]):
    """Each gate's events in one batch, as its link sends them."""
    messages = []
    for gate in sorted({line["gate"] for line in lines}):
        events = [line["event"] for line in lines if line["gate"] == gate]
        sent_at = max(e["at"] for e in events)
        batch = {"v": WIRE_VERSION, "gate": gate, "sent_at": sent_at, "events": events}
        messages.append(Incoming(topics.gate_events(gate),
                                 json.dumps(batch, ensure_ascii=False).encode(), sent_at + 5))
    return ingest(db, messages, current_policy(db), event_handlers())


def test_every_kind_has_a_model_and_a_recorded_event():
    assert set(PAYLOADS) == set(EventKind)
    assert {line["event"]["kind"] for line in LINES} == {k.value for k in EventKind}
    assert {line["event"]["kind"] for line in V1} == {k.value for k in EventKind} - {"camera"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_events_recorded_from_gates_of_each_version_are_stored_and_applied(hub, version):
    lines = RECORDED[version]
    r = send(hub, lines)
    assert (r.stored, r.quarantined, r.duplicates) == (len(lines), 0, 0)
    assert hub["quarantine"].count == 0
    assert [a["detail"] for a in hub.query(
        "select detail from alerts where kind = 'event_not_applied'")] == []
    # Their effects, kind by kind: passages, the volunteer's override, the door's
    # alarms, the visitor, the parcel kept and the one undone, the pickups' alerts.
    outcomes = [r["outcome"] for r in hub.query("select outcome from passages order by at")]
    assert outcomes == ["admit", "admit", "refuse"]      # the referral admitted by hand
    kinds = {a["kind"] for a in hub.query("select kind from alerts")}
    assert {"HEALTH_RED", "door_forced", "door_held", "mock_pins", "pickup_codes_paused",
            "parcel_wrong_pickup", "parcel_pickup_unknown"} <= kinds
    assert all(label_of(k) != k for k in kinds)            # each one labelled for the office
    assert hub["visitors"].count == 1
    assert sorted(r["state"] for r in hub.query("select state from parcels")) == \
        ["unknown_recipient", "voided"]
    # Today's gate: its camera lost for 40 s, an alert the gate itself closed.
    camera = [(a["acked_by"], a["note"]) for a in hub.query(
        "select * from alerts where kind = 'camera_lost'")]
    assert camera == ([("gate", "camera back after 40 s")] if version == "v2" else [])


def test_a_resend_of_v1_is_a_duplicate_and_nothing_else(hub):
    send(hub, LINES)
    r = send(hub, LINES)
    assert (r.stored, r.duplicates, r.quarantined, r.id_conflicts) == (0, len(LINES), 0, 0)


REQUIRED = [(kind, field.alias or name) for kind, model in PAYLOADS.items()
            for name, field in model.model_fields.items() if field.is_required()]


@pytest.mark.parametrize("kind,key", REQUIRED, ids=[f"{k.value}-{key}" for k, key in REQUIRED])
def test_a_missing_required_key_is_set_aside_naming_kind_and_key(hub, kind, key):
    line = next(line for line in LINES if line["event"]["kind"] == kind.value)
    event = json.loads(json.dumps(line["event"]))
    del event["payload"][key]
    r = send(hub, [{**line, "event": event}])
    assert r.stored == 0 and r.quarantined == 1 and r.acks   # acknowledged: not resent
    (q,) = hub.query("select reason from quarantine")
    assert q["reason"].startswith(f"event {event['seq']}: {kind.value}: {key}: Field required")
    assert hub["alerts"].count_where("kind = 'event_not_applied'") == 0


@pytest.mark.parametrize("kind,key,value,why", [
    (EventKind.PARCEL, "waybill", 123, "valid string"),
    (EventKind.ATTEMPT, "outcome", "maybe", "'admit', 'refer' or 'refuse'"),
    (EventKind.PICKUP, "wrong_codes", "five", "valid integer"),
    (EventKind.VISITOR, "host_household", "7" * 41, "at most 40 characters"),
])
def test_a_key_of_the_wrong_type_is_set_aside_with_its_reason(hub, kind, key, value, why):
    line = next(line for line in LINES if line["event"]["kind"] == kind.value
                and key in line["event"]["payload"])
    event = json.loads(json.dumps(line["event"]))
    event["payload"][key] = value
    send(hub, [{**line, "event": event}])
    (q,) = hub.query("select reason from quarantine")
    assert f"{kind.value}: {key}: " in q["reason"] and why in q["reason"]


def test_keys_the_hub_does_not_know_are_kept_for_a_newer_gate(hub):
    line = next(line for line in LINES if line["event"]["kind"] == "visitor")
    event = json.loads(json.dumps(line["event"]))
    event["payload"]["badge_colour"] = "green"
    assert send(hub, [{**line, "event": event}]).stored == 1
    (row,) = hub.query("select payload from gate_events")
    assert json.loads(row["payload"])["badge_colour"] == "green"


def test_the_kiosk_sends_only_declared_keys_in_the_right_model():
    ok = VisitorPayload(name="王*五", host_household="7-302")
    assert to_wire(EventKind.VISITOR, ok) == {"name": "王*五", "host_household": "7-302"}
    with pytest.raises(ValueError, match="visitor: keys not in VisitorPayload: host"):
        to_wire(EventKind.VISITOR, VisitorPayload(name="王*五", host_household="7", host="7"))
    with pytest.raises(TypeError, match="parcel event carries a ParcelPayload"):
        to_wire(EventKind.PARCEL, ok)
    with pytest.raises(PayloadError, match="parcel: waybill: Field required"):
        read_payload(EventKind.PARCEL, {"id": "p1"})
    assert isinstance(read_payload(EventKind.PARCEL, {"id": "p1", "waybill": "SF1"}),
                      ParcelPayload)


def test_the_kiosk_still_sends_every_key_gates_of_v1_sent(tmp_path):
    """Today's kiosk, through the same paths: a key renamed or dropped since v1 fails
    here (old hubs and the office's queries read them); a key added is fine."""
    def keys(lines):
        out: dict[str, set[str]] = {}
        for line in lines:
            out.setdefault(line["event"]["kind"], set()).update(line["event"]["payload"])
        return out
    now = keys(record(tmp_path))
    for kind, v1 in keys(LINES).items():
        assert v1 <= now[kind], f"{kind}: no longer sent: {sorted(v1 - now[kind])}"


def test_an_alerting_attempt_of_v1_raises_its_reason_as_kind(hub):
    send(hub, LINES)
    (a,) = hub.query("select kind from alerts where event_id = ?", [next(
        line["event"]["id"] for line in LINES if line["event"]["kind"] == "attempt"
        and line["event"]["payload"]["alert"])])
    assert a["kind"] == AlertKind.HEALTH_RED.value


def test_docs_name_each_kind_with_its_model_and_required_keys():
    doc = (Path(__file__).parent.parent / "docs" / "mqtt.md").read_text()
    for kind, model in PAYLOADS.items():
        row = next((line for line in doc.splitlines()
                    if line.strip().startswith(f"| `{kind.value}` |")), None)
        assert row, f"docs/mqtt.md has no row for {kind.value}"
        required = [f.alias or name for name, f in model.model_fields.items()
                    if f.is_required()]
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert cells[1] == f"`{model.__name__}`", row
        assert cells[2] == (", ".join(f"`{k}`" for k in required) or "—"), row
