"""The alert topic: each alert the hub raises reaches an automation's login on a real
Mosquitto as its kind and gate, nothing about the person; a gate's login reads none;
an alert the client could not take is offered again."""
from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time

import pytest
from pydantic import ValidationError

from gatehouse.endpoint import Endpoint
from hub import alert_log, broker, meta, schema
from hub.alert_kinds import AlertKind
from hub.alert_topic import ANY, CURSOR, AlertNotice, alert_topic_worker, publish_new, topic_of
from hub.gates import read_endpoint
from hub.sync import HubSync, SyncConfig
from tests.conftest import T0
from tests.processes import wait_until
from tests.test_broker_acl import Client
from hub.features import event_handlers


def test_an_alert_reaches_an_automation_as_kind_and_gate_only(compound, broker_proc, gate_home):
    gate_home("gate-north")
    # What `hub broker` would add for an automation: a login that reads the alert topic.
    broker.set_password(broker_proc.files.passwd, "automation", "auto-pass-123")
    with open(broker_proc.files.acl, "a") as acl:
        acl.write("\nuser automation\ntopic read gatehouse/hub/alerts/#\n")
    broker_proc.proc.send_signal(signal.SIGHUP)          # Mosquitto reloads passwd and ACL
    hub_ep = read_endpoint(compound.home.hub_mqtt)
    auto_ep = dataclasses.replace(hub_ep, username="automation", password="auto-pass-123")
    gate_ep = Endpoint.read(compound.home.root.parent / "kiosk-gate-north" / "kiosk" /
                            "mqtt.json")

    def subscriber(ep, cid):
        deadline = time.monotonic() + 10
        while True:                                      # until the reload has happened
            c = Client(ep, cid)
            wait_until(lambda: c.connected.is_set() or c.refused is not None, 10,
                       message=f"{cid} connected")
            if c.refused is None:
                subscribed = threading.Event()
                c.c.on_subscribe = lambda *a: subscribed.set()
                c.c.subscribe(ANY, qos=1)
                assert subscribed.wait(10), f"{cid}: no SUBACK"
                return c
            c.close()
            assert time.monotonic() < deadline, f"{cid} refused: {c.refused}"
            time.sleep(0.2)
    automation, gate = subscriber(auto_ep, "automation"), subscriber(gate_ep, "gate-north")
    sync = HubSync(SyncConfig(hub_ep.host, hub_ep.port, hub_ep.password, hub_ep.username),
                   compound.home.hub_db, compound.home.hub_bundle, compound.key, event_handlers())
    sync.start()
    wait_until(sync.connected.is_set, 10, message="the hub connected")
    worker = alert_topic_worker(
        compound.home.hub_db, lambda t, raw: sync.client.publish(t, raw, qos=1).rc == 0,
        interval=0.2).start()
    try:
        now = time.time()
        alert_log.add_alert(compound.db, now, "gate-north", AlertKind.HEALTH_RED, "e1",
                            {"name": "张三丰", "household": "7-2-302"})
        alert_log.add_alert(compound.db, now + 1, "gate-north", AlertKind.DOOR_FORCED, "e2", {})
        alert_log.add_alert(compound.db, now + 2, "hub", AlertKind.PARCEL_AREA_FULL, "p1",
                            {"waybill": "SF1234567890"})
        wait_until(lambda: len(automation.received) == 3, 10, message="three alerts")
        time.sleep(0.5)
        assert gate.received == []                       # gates read none of it
        got = [(t, json.loads(raw)) for t, raw in automation.received]
        assert [(t, d["kind"], d["gate"]) for t, d in got] == [
            ("gatehouse/hub/alerts/gate-north", "HEALTH_RED", "gate-north"),
            ("gatehouse/hub/alerts/gate-north", "door_forced", "gate-north"),
            ("gatehouse/hub/alerts/hub", "parcel_area_full", "hub")]
        assert got[1][1]["label"] == "门被强行打开 Door forced"
        assert all(set(d) == {"v", "id", "kind", "label", "gate", "at"} for _, d in got)
        raw = b"".join(r for _, r in automation.received).decode()
        assert "张三丰" not in raw and "7-2-302" not in raw and "SF1234567890" not in raw
    finally:
        worker.stop()
        sync.stop()
        automation.close()
        gate.close()


def test_a_refused_publish_is_offered_again_and_the_first_run_skips_the_backlog(tmp_path):
    db = schema.open_db(tmp_path / "hub.db")
    alert_log.add_alert(db, T0 - 3600, "g1", AlertKind.GATE_OFFLINE, "old", {})   # before
    alert_log.add_alert(db, T0 - 60, "g1", AlertKind.GATE_OFFLINE, "recent", {})
    out: list[tuple[str, dict]] = []
    up = [False]

    def publish(topic, raw):
        if up[0]:
            out.append((topic, json.loads(raw)))
        return up[0]
    assert publish_new(db, publish, T0) == 0               # broker down: nothing lost
    alert_log.add_alert(db, T0 + 1, "g/#", AlertKind.DOOR_FORCED, "odd", {})
    up[0] = True
    assert publish_new(db, publish, T0 + 2) == 2
    assert [(t, d["kind"]) for t, d in out] == [
        ("gatehouse/hub/alerts/g1", "gate_offline"), ("gatehouse/hub/alerts/hub", "door_forced")]
    assert meta.get_meta(db, CURSOR) == "3"
    assert publish_new(db, publish, T0 + 3) == 0
    assert topic_of("gate-north") == "gatehouse/hub/alerts/gate-north"
    with pytest.raises(ValidationError):
        AlertNotice(id=1, kind="x", label="x", gate="g", at=0, name="张三丰")
