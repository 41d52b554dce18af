"""Home Assistant sees each gate as a device through MQTT discovery: retained configs
and a retained state read from a real Mosquitto by HA's own login, counts and states
only; a door alarm shows, a retired gate is removed."""
from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time

from gatehouse import topics
from hub import alert_log, broker
from hub.alert_kinds import AlertKind
from hub.gates import read_endpoint, retire_gate
from hub.ha_discovery import ENTITIES, config_topic, ha_worker, node_id, state_topic
from hub.sync import HubSync, SyncConfig
from tests.processes import wait_until
from tests.test_broker_acl import Client
from tests.test_hub_web_app import NOW, attempt, send
from hub.features import event_handlers

# What `hub broker` would add: the hub writes the discovery prefix, HA's login reads.
ACL = """
user hub
topic write homeassistant/#
user homeassistant
topic read homeassistant/#
topic read gatehouse/hub/ha/#
topic read gatehouse/hub/status
"""


def test_each_gate_is_a_home_assistant_device(compound, broker_proc, gate_home):
    gate_home("gate-north")
    gate_home("gate.south")
    broker.set_password(broker_proc.files.passwd, "homeassistant", "ha-pass-12345")
    with open(broker_proc.files.acl, "a") as acl:
        acl.write(ACL)
    broker_proc.proc.send_signal(signal.SIGHUP)
    send(compound, "gate-north", [attempt(NOW - 60), attempt(NOW - 50, direction="out"),
                                  attempt(NOW - 40, outcome="refuse", reasons=["HEALTH_RED"],
                                          alert=True)],
         status=topics.ONLINE, beat={"outbox": 3})
    hub_ep = read_endpoint(compound.home.hub_mqtt)
    ha_ep = dataclasses.replace(hub_ep, username="homeassistant", password="ha-pass-12345")
    got: dict[str, bytes] = {}
    deadline = time.monotonic() + 10
    while True:                                   # until Mosquitto has reloaded its ACL
        ha = Client(ha_ep, "homeassistant")
        wait_until(lambda: ha.connected.is_set() or ha.refused is not None, 10)
        if ha.refused is None:
            break
        ha.close()
        assert time.monotonic() < deadline, ha.refused
        time.sleep(0.2)
    subscribed = threading.Event()
    ha.c.on_subscribe = lambda *a: subscribed.set()
    ha.c.on_message = lambda c, u, m: got.__setitem__(m.topic, m.payload)
    ha.c.subscribe([("homeassistant/#", 1), ("gatehouse/hub/ha/#", 1),
                    (topics.HUB_STATUS, 1)])
    assert subscribed.wait(10)
    sync = HubSync(SyncConfig(hub_ep.host, hub_ep.port, hub_ep.password, hub_ep.username),
                   compound.home.hub_db, compound.home.hub_bundle, compound.key, event_handlers())
    sync.start()
    wait_until(sync.connected.is_set, 10, message="the hub connected")
    worker = ha_worker(compound.home.hub_db, lambda t, raw, retain: sync.client.publish(
        t, raw, qos=1, retain=retain).rc == 0, interval=0.2, clock=lambda: NOW).start()
    try:
        wanted = [config_topic(c, g, k) for g in ("gate-north", "gate.south")
                  for c, k, _, _ in ENTITIES] + [state_topic("gate-north"),
                                                 state_topic("gate.south")]
        wait_until(lambda: all(t in got for t in wanted), 15, message="configs and states")
        online = json.loads(got[config_topic("binary_sensor", "gate-north", "online")])
        assert online["unique_id"] == "gatehouse_gate-north_online"
        assert online["state_topic"] == "gatehouse/hub/ha/gate-north/state"
        assert online["availability_topic"] == topics.HUB_STATUS
        assert online["device"]["identifiers"] == ["gatehouse_gate-north"]
        assert online["device_class"] == "connectivity"
        assert node_id("gate.south") == "gatehouse_gate_south"
        north = json.loads(got[state_topic("gate-north")])
        assert north == {"online": "ON", "last_heartbeat": "2026-11-23T12:00:00+08:00",
                         "backlog": 3, "camera_problem": "OFF", "door_problem": "OFF",
                         "entries_today": 1, "exits_today": 1, "refusals_today": 1,
                         "referrals_today": 0}
        assert json.loads(got[state_topic("gate.south")])["online"] == "OFF"
        assert got[topics.HUB_STATUS] == topics.ONLINE       # the entities are available
        raw = b"".join(got.values()).decode()
        assert "张" not in raw and "7-2-301" not in raw        # no person, no household
        # A forced door: the alarm turns on. A retired gate: its device goes away.
        alert_log.add_alert(compound.db, NOW, "gate-north", AlertKind.DOOR_FORCED, "d1", {})
        wait_until(lambda: json.loads(got[state_topic("gate-north")])["door_problem"] == "ON",
                   10, message="the door alarm")
        worker.stop()
        retire_gate(compound, "gate.south", int(NOW))
        with open(broker_proc.files.acl, "a") as acl:    # retiring rewrote the ACL file
            acl.write(ACL)
        broker_proc.proc.send_signal(signal.SIGHUP)

        def reloaded():                                  # the hub may write there again
            sync.client.publish("homeassistant/probe", b"1", qos=1)
            return got.get("homeassistant/probe") == b"1"
        wait_until(reloaded, 10, every=0.3, message="the broker's reload")
        worker = ha_worker(compound.home.hub_db, lambda t, raw, retain: sync.client.publish(
            t, raw, qos=1, retain=retain).rc == 0, interval=0.2, clock=lambda: NOW).start()
        gone = config_topic("binary_sensor", "gate.south", "online")
        wait_until(lambda: got.get(gone) == b"", 10, message="the retired gate removed")
        assert json.loads(got[state_topic("gate-north")])["online"] == "ON"
    finally:
        worker.stop()
        sync.stop()
        ha.close()


def test_configs_come_again_after_a_while_and_a_state_only_when_it_changes(compound):
    from hub.ha_discovery import REFRESH_S, HaPublisher
    compound.db["gates"].insert({"id": "gate-north", "name": "北门", "added_at": NOW,
                                 "online": 0})
    send(compound, "gate-north", status=topics.ONLINE, beat={"outbox": 0})
    out: list[tuple[str, bytes]] = []
    pub = HaPublisher(lambda t, raw, retain: out.append((t, raw)) or retain)
    assert pub.run(compound.db, NOW) == len(ENTITIES) + 1
    assert pub.run(compound.db, NOW + 1) == 0                 # nothing changed
    send(compound, "gate-north", beat={"outbox": 5})
    assert pub.run(compound.db, NOW + 2) == 1                 # the backlog changed
    assert json.loads(out[-1][1])["backlog"] == 5
    assert pub.run(compound.db, NOW + 2 + REFRESH_S) == len(ENTITIES) + 1
