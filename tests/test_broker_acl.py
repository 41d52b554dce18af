"""The broker's ACL holds: a gate may publish only its own topics; only the hub bundles.
Every probe runs twice: on the plain listener and on the TLS one (the gates' default)."""
import json
import ssl
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.endpoint import Endpoint
from gatehouse.net import close_client
from hub import broker
from hub.gates import setup_broker
from tests.processes import Broker, free_port, wait_until


@pytest.fixture(params=["plain", "tls"])
def broker_proc(request, compound, tmp_path):
    """Mosquitto as deployed (tests/mqtt_fixtures.py), with the TLS listener too; the
    probes' clients connect on the listener the parameter names."""
    port, tls_port = free_port(), free_port()
    files = setup_broker(compound.home, port)
    broker.make_tls(files, ["127.0.0.1"], tls_port, "127.0.0.1")
    proc = Broker(files, port, tmp_path / "mosquitto.log").start()
    wait_until(lambda: f"listen socket on port {tls_port}" in proc.output(), 10,
               message="the TLS listener")
    proc.tls = (tls_port, files.ca_cert) if request.param == "tls" else None
    yield proc
    proc.stop()


class Client:
    """A plain MQTT 5 client that records PUBACK reason codes and received messages."""

    def __init__(self, ep: Endpoint, client_id: str, tls=None):
        self.acks: dict[int, object] = {}
        self.received: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.refused = None
        c = self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                 protocol=mqtt.MQTTv5)
        c.username_pw_set(ep.username, ep.password)
        c.on_connect = self._connected
        c.on_publish = lambda cl, u, mid, rc, props: self.acks.__setitem__(mid, rc)
        c.on_message = lambda cl, u, m: self.received.append((m.topic, m.payload))
        if tls:  # (port, CA): as a gate enrolled with TLS connects
            c.tls_set(ca_certs=str(tls[1]), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.connect(ep.host, tls[0] if tls else ep.port)
        c.loop_start()

    def _connected(self, client, userdata, flags, rc, props):
        if rc.is_failure:
            self.refused = rc
        else:
            self.connected.set()

    def publish(self, topic: str, payload: bytes, retain=False):
        """Publish QoS 1 and return the broker's reason code for it."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        wait_until(lambda: info.mid in self.acks, 5, message="PUBACK")
        return self.acks[info.mid]

    def close(self):
        close_client(self.c)


@pytest.fixture
def clients(compound, broker_proc, gate_home):
    gate_home("gate-1")
    gate_home("gate-2")
    hub_ep = Endpoint.read(compound.home.hub_mqtt)
    gate1 = Endpoint.read(compound.home.root.parent / "kiosk-gate-1" / "kiosk" / "mqtt.json")
    made = []

    def make(ep, cid):
        c = Client(ep, cid, broker_proc.tls)
        made.append(c)
        wait_until(lambda: c.connected.is_set() or c.refused is not None, 5)
        return c
    yield make, hub_ep, gate1
    for c in made:
        c.close()


def test_a_gate_cannot_publish_a_bundle_or_impersonate_another_gate(clients):
    make, hub_ep, gate1 = clients
    hub = make(hub_ep, "hub-listener")
    hub.c.subscribe([(topics.ROOT + "/#", 1)])
    gate = make(gate1, "gate-1-test")
    assert gate.publish(topics.HUB_BUNDLE, b"forged", retain=True).getName() == "Not authorized"
    assert gate.publish(topics.gate_events("gate-2"), b"{}").getName() == "Not authorized"
    assert gate.publish(topics.gate_ack("gate-1"), b"{}").getName() == "Not authorized"
    assert gate.publish(topics.gate_events("gate-1"), b"{}").getName() == "Success"
    wait_until(lambda: any(t == topics.gate_events("gate-1") for t, _ in hub.received), 5)
    assert [t for t, _ in hub.received if t != topics.gate_events("gate-1")] == []


def test_a_gate_reads_the_bundle_but_not_another_gates_acks(clients):
    make, hub_ep, gate1 = clients
    hub = make(hub_ep, "hub-pub")
    gate = make(gate1, "gate-1-reader")
    gate.c.subscribe([(topics.HUB_BUNDLE, 1), (topics.gate_ack("gate-2"), 1)])
    # Whether the broker counts gate-1's denied subscription or not, nothing reaches it.
    assert hub.publish(topics.gate_ack("gate-2"), json.dumps({"v": 1}).encode()).getName() \
        in ("Success", "No matching subscribers")
    assert hub.publish(topics.HUB_BUNDLE, b"bundle bytes", retain=True).getName() == "Success"
    wait_until(lambda: (topics.HUB_BUNDLE, b"bundle bytes") in gate.received, 5)
    assert all(t != topics.gate_ack("gate-2") for t, _ in gate.received)


def test_wrong_password_and_anonymous_are_refused(compound, broker_proc):
    ep = Endpoint.read(compound.home.hub_mqtt)
    for bad in (Endpoint(ep.host, ep.port, "hub", "wrong"), Endpoint(ep.host, ep.port, "", "")):
        c = Client(bad, "intruder", broker_proc.tls)
        wait_until(lambda: c.refused is not None, 5, message="refusal")
        assert not c.connected.is_set()
        c.close()


def test_only_a_parcel_area_kiosk_reads_the_shelf_manifest(compound, clients, gate_home):
    """The manifest names households and pickup codes: an entrance gate's credentials
    (on an SD card at the gate) must not reveal them."""
    from hub.gates import set_role
    make, hub_ep, gate1 = clients
    gate_home("parcels-1")
    parcels = Endpoint.read(compound.home.root.parent / "kiosk-parcels-1" / "kiosk" /
                            "mqtt.json")
    hub = make(hub_ep, "hub-pub")
    assert hub.publish(topics.HUB_PARCELS, b"manifest v1", retain=True).getName() in (
        "Success", "No matching subscribers")
    entrance, counter = make(gate1, "gate-1-peek"), make(parcels, "parcels-1-reader")
    for c in (entrance, counter):
        c.c.subscribe([(topics.HUB_PARCELS, 1), (topics.HUB_BUNDLE, 1)])
    wait_until(lambda: (topics.HUB_PARCELS, b"manifest v1") in counter.received, 5)
    assert hub.publish(topics.HUB_BUNDLE, b"bundle", retain=True).getName() == "Success"
    wait_until(lambda: (topics.HUB_BUNDLE, b"bundle") in entrance.received, 5)
    assert all(t != topics.HUB_PARCELS for t, _ in entrance.received)
    # The office makes gate-1 a parcel kiosk: the broker lets it read from then on.
    set_role(compound, "gate-1", "parcels")
    late = make(gate1, "gate-1-now-parcels")
    late.c.subscribe([(topics.HUB_PARCELS, 1)])
    wait_until(lambda: (topics.HUB_PARCELS, b"manifest v1") in late.received, 5)


def test_the_district_link_is_the_hubs_alone(compound, tmp_path):
    """The district's orders and acks, the hub's feed up and the bridge's state: the hub
    reads and writes them; a gate's login can do neither (a gate's SD card must not
    reveal or forge what passes between the compound and its street office)."""
    from gatehouse.home import Home
    from hub.gates import add_gate
    dport, port = free_port(), free_port()
    dfiles = broker.write_district_files(tmp_path / "district", dport)
    broker.set_password(dfiles.passwd, "c1", "c1-pw")
    files = setup_broker(compound.home, port)
    broker.write_bridge(files, "c1", "127.0.0.1", dport, "c1", "c1-pw")
    district = Broker(dfiles, dport, tmp_path / "district.log").start()
    local = Broker(files, port, tmp_path / "compound.log").start()
    gate_ep = add_gate(compound, "gate-1", kiosk_home=Home.at(tmp_path / "kiosk"))
    made = []
    try:
        def make(ep, cid):
            c = Client(ep, cid)
            made.append(c)
            wait_until(lambda: c.connected.is_set() or c.refused is not None, 5)
            return c
        hub = make(Endpoint.read(compound.home.hub_mqtt), "hub-probe")
        gate = make(gate_ep, "gate-probe")
        wanted = [(f"{topics.ROOT}/district/#", 1), (f"{topics.ROOT}/hub/district/#", 1),
                  ("$SYS/broker/connection/#", 1)]
        hub.c.subscribe(wanted)
        gate.c.subscribe(wanted)
        state = broker.bridge_state_topic("c1")
        wait_until(lambda: (state, b"1") in hub.received, 10, message="the bridge's state")
        assert gate.publish(topics.HUB_DISTRICT_FEED, b"forged feed").getName() == \
            "Not authorized"
        assert gate.publish(topics.DISTRICT_ORDERS, b"forged orders").getName() == \
            "Not authorized"
        assert hub.publish(topics.DISTRICT_ORDERS, b"orders").getName() == "Success"
        assert hub.publish(topics.HUB_DISTRICT_STATUS, b"status").getName() == "Success"
        wait_until(lambda: (topics.HUB_DISTRICT_STATUS, b"status") in hub.received, 5)
        assert (topics.DISTRICT_ORDERS, b"orders") in hub.received
        assert gate.received == []
        assert not any(p.startswith(b"forged") for _, p in hub.received)
    finally:
        for c in made:
            c.close()
        local.stop()
        district.stop()
