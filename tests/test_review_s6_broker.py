"""H-REVIEW s6: a gate's MQTT login (a stolen SD card) against the hub's district link
(0f03852's silence alert is cleared by a FeedAck; the bridge's state says up or down;
orders come down gatehouse/district/orders): on the real Mosquitto as deployed, a gate
can forge none of them, nor publish the hub's feed up to the district.
Held: the ACL gives gates only their own topics (hub/broker.py ACL)."""
from __future__ import annotations

import json

import pytest

from gatehouse import topics
from hub.broker import bridge_state_topic
from hub.gates import setup_broker
from tests.processes import Broker, free_port, wait_until
from tests.test_broker_acl import clients  # noqa: F401 (fixture)


@pytest.fixture
def broker_proc(compound, tmp_path):
    """Mosquitto as deployed, plain listener: the ACL is the same on every listener
    (tests/test_broker_acl.py tries both for the gates' own topics)."""
    port = free_port()
    proc = Broker(setup_broker(compound.home, port), port, tmp_path / "mosquitto.log").start()
    proc.tls = None
    yield proc
    proc.stop()

FORGED = [
    (topics.DISTRICT_ACK, json.dumps({"v": 1, "district": "d1", "compound": "c1",
                                      "ranges": [[1, 10**6]]}).encode()),
    (topics.DISTRICT_ORDERS, b'{"v": 1, "district": "d1", "compound": "c1", "orders": []}'),
    (bridge_state_topic("c1"), b"1"),
    ("$SYS/broker/connection/district-c1/state", b"0"),
    (topics.HUB_DISTRICT_FEED, b"{}"),
    (topics.HUB_DISTRICT_STATUS, b"{}"),
    (topics.HUB_DISTRICT_REPORTS, b"{}"),
]


def test_a_gate_cannot_forge_the_districts_acks_orders_or_the_bridges_state(
        clients):  # noqa: F811
    make, hub_ep, gate1 = clients
    hub = make(hub_ep, "hub-district-listener")
    hub.c.subscribe([(topics.ROOT + "/#", 1), ("$SYS/broker/connection/#", 1)])
    gate = make(gate1, "gate-1-forger")
    for topic, payload in FORGED:
        for retain in (False, True):
            rc = gate.publish(topic, payload, retain=retain)
            assert rc.getName() == "Not authorized", (topic, retain, rc)
    # A message of its own still goes through: the refusals above were the ACL's.
    assert gate.publish(topics.gate_events("gate-1"), b"{}").getName() == "Success"
    wait_until(lambda: any(t == topics.gate_events("gate-1") for t, _ in hub.received), 5)
    assert [t for t, _ in hub.received if t != topics.gate_events("gate-1")] == []
