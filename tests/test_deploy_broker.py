"""The broker as deployed: passwords and ACL hold on the generated config, the optional
TLS listener (the hub as CA), and a compound bridged to a district broker on loopback:
the hub's district feed up (never a gate's own events), what the district sends down,
and the compound working on while the district link is down."""
import base64
import json
import ssl
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.endpoint import Endpoint
from gatehouse.home import Home
from gatehouse.net import close_client
from hub import broker
from hub.gates import add_gate, setup_broker
from tests.processes import Broker, free_port, wait_until
from hub.features import event_handlers


class Client:
    """An MQTT 5 client that records its CONNACK, PUBACKs and what it receives."""

    def __init__(self, ep: Endpoint, cid: str, port: int | None = None, ca=None,
                 persistent: bool = False):
        self.rc, self.acks, self.received = None, {}, []
        self.done = threading.Event()
        c = self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid,
                                 protocol=mqtt.MQTTv5)
        c.username_pw_set(ep.username, ep.password)
        c.reconnect_delay_set(0.2, 1)
        if ca:
            c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.on_connect = self._connected
        c.on_publish = lambda cl, u, mid, rc, props: self.acks.__setitem__(mid, rc)
        c.on_message = lambda cl, u, m: self.received.append((m.topic, m.payload))
        props = None
        if persistent:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.subs: list = []
        c.connect(ep.host, port or ep.port, clean_start=not persistent, properties=props)
        c.loop_start()
        assert self.done.wait(5), "no CONNACK"

    def _connected(self, client, userdata, flags, rc, props):
        self.rc = rc.getName()
        self.done.set()
        if self.subs and not rc.is_failure:
            client.subscribe(self.subs)

    def subscribe(self, topic: str):
        self.subs.append((topic, 1))
        self.c.subscribe(topic, 1)

    def publish(self, topic: str, payload: bytes, retain=False):
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        wait_until(lambda: info.mid in self.acks, 5, message="PUBACK")
        name = self.acks[info.mid].getName()
        return "Success" if name == "No matching subscribers" else name

    def got(self, topic: str, payload: bytes) -> bool:
        return (topic, payload) in self.received

    def close(self):
        close_client(self.c)


@pytest.fixture
def clients():
    made = []

    def make(*args, **kw):
        c = Client(*args, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def test_generated_config_holds_passwords_and_acl(compound, broker_proc, gate_home, clients):
    gate_home("gate-1")
    hub_ep = Endpoint.read(compound.home.hub_mqtt)
    gate_ep = Endpoint.read(compound.home.root.parent / "kiosk-gate-1" / "kiosk" / "mqtt.json")
    assert clients(Endpoint(hub_ep.host, hub_ep.port, "", ""), "anon").rc != "Success"
    assert clients(Endpoint(hub_ep.host, hub_ep.port, "gate-1", "wrong"), "g-bad").rc \
        in ("Not authorized", "Bad user name or password")
    hub, gate = clients(hub_ep, "hub-t"), clients(gate_ep, "gate-t")
    assert hub.rc == gate.rc == "Success"
    assert gate.publish(topics.HUB_BUNDLE, b"forged", retain=True) == "Not authorized"
    assert gate.publish(topics.gate_events("gate-2"), b"{}") == "Not authorized"
    assert gate.publish(topics.gate_events("gate-1"), b"{}") == "Success"
    assert hub.publish(topics.HUB_STATUS, b"online") == "Success"
    conf = (compound.home.hub_broker / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "persistence true" in conf


def test_tls_listener_with_the_hub_as_ca(compound, tmp_path, clients):
    port, tls_port = free_port(), free_port()
    files = setup_broker(compound.home, port)
    broker.make_tls(files, ["127.0.0.1", "localhost"], tls_port, "127.0.0.1")
    assert broker.tls_port(files) == tls_port
    proc = Broker(files, port, tmp_path / "mosquitto.log").start()
    try:
        wait_until(lambda: "Opening ipv4 listen socket on port " + str(tls_port)
                   in proc.output(), 5, message="the TLS listener")
        hub_ep = Endpoint.read(compound.home.hub_mqtt)
        c = clients(hub_ep, "hub-tls", port=tls_port, ca=files.ca_cert)
        assert c.rc == "Success"
        assert c.publish(topics.HUB_STATUS, b"online") == "Success"
        # A gate enrolled now gets the CA and the TLS port with its credentials.
        from hub import enroll
        code = enroll.create_code(compound, "gate-t", "http://127.0.0.1:1", 0, minutes=10**6)
        body = json.loads(base64.b64decode(json.loads(
            enroll.redeem(compound, enroll.token_id(code.token), 1.0))["body"]))
        assert body["gate_id"] == "gate-t"
    finally:
        proc.stop()


def test_compound_bridges_to_district(compound, tmp_path, clients):
    # The district broker: the street office's login and one per compound.
    dport = free_port()
    dfiles = broker.write_district_files(tmp_path / "district", dport)
    broker.set_password(dfiles.passwd, "street", "street-pw")
    broker.set_password(dfiles.passwd, "c1", "c1-pw")
    broker.set_password(dfiles.passwd, "c2", "c2-pw")
    # The compound: its broker, a gate, and a bridge up to the district.
    port = free_port()
    files = setup_broker(compound.home, port)
    gate_ep = add_gate(compound, "gate-1", kiosk_home=Home.at(tmp_path / "k"))
    broker.write_bridge(files, "c1", "127.0.0.1", dport, "c1", "c1-pw")
    district = Broker(dfiles, dport, tmp_path / "district.log").start()
    local = Broker(files, port, tmp_path / "compound.log").start()
    try:
        street_ep = Endpoint("127.0.0.1", dport, "street", "street-pw")
        street = clients(street_ep, "street-office", persistent=True)
        street.subscribe("district/#")
        hub = clients(Endpoint.read(compound.home.hub_mqtt), "hub-t")
        hub.subscribe(topics.ROOT + "/#")
        gate = clients(gate_ep, "gate-1-t")
        # The bridge logs in as c1, and the district knows it by that name alone
        # (use_username_as_clientid: no login can take another's client id).
        wait_until(lambda: " as c1 " in district.output(), 10, message="the bridge")
        # Up: the hub's district feed reaches the street office under the compound's
        # prefix; a gate's own events (full names) never leave the compound.
        up = "district/c1/" + topics.HUB_DISTRICT_FEED
        assert gate.publish(topics.gate_events("gate-1"), b"e1") == "Success"
        wait_until(lambda: (hub.publish(topics.HUB_DISTRICT_FEED, b"f1") and
                            street.got(up, b"f1")), 10, every=0.5,
                   message="the feed up to the district")
        assert not any("/gate/" in t for t, _ in street.received)
        # Down: the street office sends a bundle; the compound's hub gets it, gates do not.
        assert street.publish("district/c1/down/bundle", b"district-bundle") == "Success"
        wait_until(lambda: hub.got(topics.ROOT + "/district/bundle", b"district-bundle"), 10,
                   message="the bundle down to the compound")
        # A compound cannot write under another compound's prefix at the district.
        c2 = clients(Endpoint("127.0.0.1", dport, "c2", "c2-pw"), "c2-direct")
        assert c2.publish("district/c1/gatehouse/gate/x/events", b"x") == "Not authorized"
        c2.close()
        # District down: the compound works on; what it sent reaches the district later.
        district.stop()
        assert gate.publish(topics.gate_events("gate-1"), b"while-down") == "Success"
        wait_until(lambda: hub.got(topics.gate_events("gate-1"), b"while-down"), 5,
                   message="the compound working without its district")
        assert hub.publish(topics.HUB_DISTRICT_FEED, b"while-down") == "Success"
        district.start()
        wait_until(lambda: street.got(up, b"while-down"), 20,
                   message="the queued feed up after the link came back")
    finally:
        local.stop()
        district.stop()


def test_an_enrolled_gate_syncs_over_tls_with_the_hubs_ca(compound, tmp_path):
    """A gate with the hub's CA and the TLS port talks to the broker over TLS only."""
    import time

    from gatehouse.events import EventKind
    from gatehouse.home import Home
    from hub.gates import add_gate
    from hub.sync import HubSync, SyncConfig
    from kiosk.bundles import BundleCache
    from kiosk.clock import ClockJudge
    from kiosk.config import KioskConfig
    from kiosk.runner import _Status, start_link
    from kiosk.attempt_log import AttemptLog
    port, tls_port = free_port(), free_port()
    files = setup_broker(compound.home, port)
    broker.make_tls(files, ["127.0.0.1", "localhost"], tls_port, "127.0.0.1")
    proc = Broker(files, port, tmp_path / "mosquitto.log").start()
    gate_home = Home.at(tmp_path / "gate")
    ep = add_gate(compound, "gate-t", kiosk_home=gate_home)
    gate_home.kiosk_mqtt.unlink()
    (gate_home.kiosk / "mqtt.json").write_text(json.dumps(
        {**ep.to_json(), "port": 1, "tls_port": tls_port}))   # plain port unusable on purpose
    (gate_home.kiosk / "ca.crt").write_bytes(files.ca_cert.read_bytes())
    hub_ep = Endpoint.read(compound.home.hub_mqtt)
    sync = HubSync(SyncConfig(hub_ep.host, hub_ep.port, hub_ep.password), compound.home.hub_db,
                   compound.home.hub_bundle, compound.key, event_handlers())
    sync.start()
    store = AttemptLog(gate_home.kiosk_db)
    ids = [store.log_event(EventKind.EXIT_REQUEST, time.time()) for _ in range(20)]
    config = KioskConfig(gate_id="gate-t")
    link = start_link(gate_home, config, ClockJudge("trusted"), BundleCache(gate_home),
                      _Status(config, "mock"))
    try:
        assert link.config.ca_file is not None and link.config.port == tls_port
        wait_until(lambda: store.outbox.backlog() == 0, 20, message="outbox over TLS")
        got = {r["id"] for r in compound.db.query(
            "select id from gate_events where gate = 'gate-t'")}
        assert set(ids) <= got
    finally:
        link.stop()
        sync.stop()
        store.close()
        proc.stop()
