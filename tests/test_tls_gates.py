"""TLS from the gates to the broker, the default for a gate enrolled once the hub has a
TLS listener (docs/deploy.md §6): a real Mosquitto, `hub serve` and `kiosk run`; the
gate checks the hub's CA and the server's name; the plain listener closes to the LAN
only once every gate says (in its heartbeat) that it is on TLS.

127.0.0.2 stands for the hub's LAN address: Linux routes all of 127/8 to loopback, so a
listener bound to 0.0.0.0 answers there and one bound to 127.0.0.1 does not.
"""
import json
import re
import socket
import sqlite3
import ssl
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from demo.scenes import showing, write_frames
from gatehouse.codes import Colour
from gatehouse.endpoint import Endpoint
from gatehouse.events import EventKind
from gatehouse.home import Home
from gatehouse.net import close_client
from hub import broker, enroll
from hub.broker_listeners import close_plain, gate_transports, listeners
from hub.compound import HubError
from hub.gates import add_gate, retire_gate, setup_broker
from hub.sync import HubSync, SyncConfig
from hub.web.enroll import mount
from kiosk import enroll as kiosk_enroll
from kiosk.bundles import hub_key
from kiosk.clock import ClockJudge
from kiosk.link import HubLink, LinkConfig, LinkRefused, broker_port
from kiosk.attempt_log import AttemptLog
from tests.conftest import ALICE_ID, HOUR
from tests.processes import BIN, Broker, free_port, hub_process, kiosk_process, wait_until
from hub.features import event_handlers

LAN_IP = "127.0.0.2"


def connect_result(host: str, port: int, ep: Endpoint, ca=None, cid="probe") -> str:
    """One MQTT 5 login attempt; the CONNACK reason's name. TLS and TCP errors raise."""
    got: dict = {}
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.username_pw_set(ep.username, ep.password)
    c.on_connect = lambda cl, u, f, rc, p: (got.setdefault("rc", rc.getName()), done.set())
    if ca is not None:
        c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    try:
        c.connect(host, port)   # the TCP connection and the TLS handshake happen here
        c.loop_start()
        assert done.wait(5), "no CONNACK"
    finally:
        close_client(c)
    return got["rc"]


def handshake(host: str, port: int, ca) -> None:
    """The TLS handshake a gate's link makes (paho's tls_set: PROTOCOL_TLS_CLIENT, the
    CA given, the name checked); paho itself leaks the socket when it fails."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca == "system":
        ctx.load_default_certs()
    else:
        ctx.load_verify_locations(str(ca))
    with socket.create_connection((host, port), 5) as raw, \
            ctx.wrap_socket(raw, server_hostname=host):
        pass


@pytest.fixture
def tls_broker(compound, tmp_path):
    """Mosquitto as install-hub.sh leaves it: plain and TLS listeners open to the LAN."""
    port, tls_port = free_port(), free_port()
    files = setup_broker(compound.home, port, bind="0.0.0.0")
    broker.make_tls(files, [LAN_IP, "127.0.0.1", "localhost"], tls_port, "0.0.0.0")
    log = tmp_path / "mosquitto.log"

    def start() -> Broker:
        proc = Broker(files, port, log).start()
        wait_until(lambda: proc.output().count(f"listen socket on port {tls_port}")
                   >= start.runs + 1, 10, message="the TLS listener")
        start.runs += 1
        return proc
    start.runs = 0
    box = {"proc": start()}
    yield box, start, files, port, tls_port
    box["proc"].stop()


@pytest.fixture
def enroll_url(compound):
    """The hub's enrollment endpoint alone, on a free loopback port."""
    from types import SimpleNamespace

    from flask import Flask
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, mount(Flask("empty").wsgi_app,
                                               SimpleNamespace(home=compound.home)),
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def hub_cli(compound, *args) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "hub", *args, "--home", compound.home.root],
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_gate_enrolled_by_default_links_over_tls_and_its_entries_reach_the_hub(
        compound, authority, tls_broker, enroll_url, tmp_path):
    box, _, files, port, tls_port = tls_broker
    now = int(time.time())
    texts = [compound.issue_pass(ALICE_ID, "张三丰", "7", "302", now - 86400),
             authority.health(ALICE_ID, Colour.GREEN, now - HOUR, now - 20 * HOUR)]
    compound.publish(now)
    gate = Home.at(tmp_path / "gate-tls")
    code = enroll.create_code(compound, "gate-tls", enroll_url, now)
    done = kiosk_enroll.enroll(gate, code.text())
    assert done.tls_port == tls_port
    assert (gate.kiosk / "ca.crt").read_bytes() == files.ca_cert.read_bytes()
    hub = hub_process(compound.home, tmp_path / "hub.log").start()
    frames = write_frames(tmp_path / "people", showing(*texts, frames_each=3, gap=2, tail=20))
    kiosk = kiosk_process(gate, f"file:{frames}?fps=15&loop=1", tmp_path / "kiosk.log",
                          cooldown_s=0.3, attempt_window_s=1)
    kiosk.start()
    try:
        def passages():
            con = sqlite3.connect(compound.home.hub_db)
            try:
                return con.execute("select gate, outcome from passages").fetchall()
            finally:
                con.close()
        wait_until(lambda: ("gate-tls", "admit") in passages(), 40,
                   message="the gate's admit at the hub, over TLS")
        assert f"hub link to 127.0.0.1:{tls_port} over TLS" in kiosk.output()
        # The broker saw the gate's login arrive on the TLS port, never on the plain one.
        log = box["proc"].output()
        peers = re.findall(r"New client connected from (\S+) as \S+ \(.*u'gate-tls'\)", log)
        assert peers and all(f"New connection from {p} on port {tls_port}." in log
                             for p in peers)
        # Its heartbeat says so, and the office sees it.
        wait_until(lambda: gate_transports(compound).get("gate-tls") == "tls", 30,
                   message="a heartbeat saying tls")
        shown = json.loads(hub_cli(compound, "broker", "plain").stdout)
        assert shown["gates"] == {"gate-tls": "tls"} and shown["plain_closed"] is False
    finally:
        kiosk.stop()
        hub.stop()


def test_without_the_hubs_ca_or_under_another_name_the_gate_is_refused(
        compound, tls_broker, tmp_path):
    _, _, files, port, tls_port = tls_broker
    ep = add_gate(compound, "gate-probe")
    assert connect_result("127.0.0.1", tls_port, ep, files.ca_cert) == "Success"
    handshake("127.0.0.1", tls_port, files.ca_cert)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake("127.0.0.1", tls_port, "system")       # the system's CAs only
    # The broker's certificate names 127.0.0.2, 127.0.0.1 and localhost: not 127.0.0.3.
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        handshake("127.0.0.3", tls_port, files.ca_cert)
    # Another compound's CA (a broker posing as ours) is refused as well.
    other = broker.BrokerFiles.in_folder(tmp_path / "other")
    broker.make_tls(other, ["127.0.0.1"], free_port())
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake("127.0.0.1", tls_port, other.ca_cert)
    # The hub refuses to make a code the gate could never use, and says why.
    with pytest.raises(HubError, match="does not name 'hub.example'"):
        enroll.create_code(compound, "gate-x", "http://hub.example:8080", int(time.time()))


def test_the_link_never_falls_back_to_plain_by_itself(tmp_path):
    ca = tmp_path / "ca.crt"
    enrolled = Endpoint("hub.local", 1883, "gate-1", "pw", tls_port=8883)
    with pytest.raises(LinkRefused, match="ca.crt is missing: enroll this gate again"):
        broker_port(enrolled, ca)
    ca.write_text("the hub's CA")
    assert broker_port(enrolled, ca) == (8883, ca)
    assert broker_port(enrolled, ca, "off") == (1883, None)   # the technician's choice
    assert broker_port(Endpoint("hub.local", 1883, "gate-1", "pw"), ca) == (1883, None)


def _link(gate: Home, ep: Endpoint) -> HubLink:
    """A gate's link as the kiosk makes it, TLS whenever it was enrolled with the CA."""
    port, ca = broker_port(ep, gate.kiosk / "ca.crt")
    link = HubLink(LinkConfig(ep.username, ep.host, port, ep.username, ep.password,
                              heartbeat_s=0.5, ca_file=ca),
                   gate.kiosk_db, gate.kiosk_bundle, hub_key(gate), ClockJudge("trusted"))
    link.start()
    return link


def test_plain_closes_only_once_every_gate_is_on_tls(compound, tls_broker, tmp_path):
    box, start, files, port, tls_port = tls_broker
    # gate-a: handed its credentials now (the TLS port and the CA come with them);
    # gate-b: credentials as gates had them before TLS (the plain port only).
    a, b = Home.at(tmp_path / "a"), Home.at(tmp_path / "b")
    ep_a = add_gate(compound, "gate-a", kiosk_home=a, host=LAN_IP)
    assert Endpoint.read(a.kiosk_mqtt).tls_port == tls_port
    assert (a.kiosk / "ca.crt").read_bytes() == files.ca_cert.read_bytes()
    ep_b = add_gate(compound, "gate-b", kiosk_home=b, host=LAN_IP)
    b.kiosk_mqtt.unlink()
    b.kiosk_mqtt.write_text(json.dumps(ep_b.to_json()))
    (b.kiosk / "ca.crt").unlink()
    hub_ep = Endpoint.read(compound.home.hub_mqtt)
    sync = HubSync(SyncConfig(hub_ep.host, hub_ep.port, hub_ep.password),
                   compound.home.hub_db, compound.home.hub_bundle, compound.key, event_handlers())
    sync.start()
    store = AttemptLog(a.kiosk_db)
    links = [_link(a, Endpoint.read(a.kiosk_mqtt)), _link(b, Endpoint.read(b.kiosk_mqtt))]
    try:
        wait_until(lambda: gate_transports(compound) == {"gate-a": "tls", "gate-b": "plain"},
                   30, message="both gates' heartbeats")
        with pytest.raises(HubError, match=r"still use the plain port .*: gate-b \(plain\)"):
            close_plain(compound)
        r = hub_cli(compound, "broker", "plain", "--close")
        assert r.returncode == 1 and "gate-b (plain)" in r.stderr and "--force" in r.stderr
        assert not listeners(files).plain_closed
        # gate-b is re-enrolled elsewhere / retired: nothing on plain any more.
        links.pop().stop()
        retire_gate(compound, "gate-b", int(time.time()))
        r = hub_cli(compound, "broker", "plain", "--close")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["plain_closed"] and "restart the broker" in r.stderr
        assert Endpoint.read(compound.home.hub_mqtt).host == "127.0.0.1"
        box["proc"].stop()
        box["proc"] = start()
        # From the LAN the plain port is shut; the hub's own login (loopback) and the
        # TLS gate carry on: events logged now reach the hub through both.
        with pytest.raises(ConnectionRefusedError):
            connect_result(LAN_IP, port, ep_a)
        ids = [store.log_event(EventKind.EXIT_REQUEST, time.time()) for _ in range(5)]
        links[0].wake()
        wait_until(lambda: store.outbox.backlog() == 0, 30, message="gate-a's events after closing")
        got = {r["id"] for r in compound.db.query(
            "select id from gate_events where gate = 'gate-a'")}
        assert set(ids) <= got
        # Reopened (a repair, an old gate): the LAN reaches the plain port again.
        assert hub_cli(compound, "broker", "plain", "--open").returncode == 0
        box["proc"].stop()
        box["proc"] = start()
        assert connect_result(LAN_IP, port, add_gate(compound, "gate-c")) == "Success"
        with socket.create_connection((LAN_IP, tls_port), 2):
            pass
    finally:
        for link in links:
            link.stop()
        sync.stop()
        store.close()
