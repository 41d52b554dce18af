"""Enrolling a gate end to end: the hub's one-time code, scanned by the gate's camera,
to its first event accepted at the hub; then retired and refused by the broker."""
import json
import sqlite3
import stat
import subprocess
import threading
import time
import tomllib

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from demo.scenes import showing, write_frames
from gatehouse.codes import Colour
from gatehouse.endpoint import Endpoint
from gatehouse.home import Home
from gatehouse.net import close_client
from hub import enroll, users
from hub.gates import cancel_codes, retire_gate
from hub.features import event_handlers
from hub.web.enroll import mount
from kiosk import enroll as kiosk_enroll
from tests.conftest import ALICE_ID, HOUR
from tests.processes import (
    BIN,
    Process,
    free_port,
    hub_process,
    kiosk_process,
    port_open,
    wait_until,
)


def connect_result(ep: Endpoint, client_id: str) -> str:
    """Try an MQTT 5 login; the CONNACK reason's name ('Success', 'Not authorized'...)."""
    result: dict = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, props):
        result["rc"] = rc.getName()
        done.set()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(ep.username, ep.password)
    c.on_connect = on_connect
    c.connect(ep.host, ep.port)
    c.loop_start()
    try:
        assert done.wait(5), "no CONNACK"
    finally:
        close_client(c)
    return result["rc"]


@pytest.fixture
def enroll_server(compound, broker_proc):
    """The gates' enrollment endpoint alone, on a free loopback port."""
    from types import SimpleNamespace

    from flask import Flask
    from werkzeug.serving import make_server
    app = mount(Flask("empty").wsgi_app, SimpleNamespace(home=compound.home))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_code_round_trip_and_what_it_reveals(compound, broker_proc):
    code = enroll.create_code(compound, "gate-north", "http://127.0.0.1:8080", int(time.time()))
    assert enroll.EnrollCode.parse(code.text()) == code
    row = next(compound.db.query("select * from enrollments"))
    assert code.token not in json.dumps(row)          # the token itself is never stored
    assert row["token_id"] == enroll.token_id(code.token)
    assert kiosk_enroll.parse_code(code.text()) == (code.hub_url, code.token,
                                                    code.fingerprint)
    with pytest.raises(kiosk_enroll.EnrollFailed):
        kiosk_enroll.parse_code("HC1:not-ours")


def test_a_code_works_once_and_writes_the_gates_home(compound, enroll_server, tmp_path):
    code = enroll.create_code(compound, "gate-east", enroll_server, int(time.time()),
                              name="东门")
    home = Home.at(tmp_path / "gate")
    (home.kiosk).mkdir(parents=True)
    (home.kiosk / "config.toml").write_text('gate_id = "old"\ndirection = "out"\n'
                                            '[pins]\nrelay_pin = 5\n')
    done = kiosk_enroll.enroll(home, code.text())
    assert done.gate_id == "gate-east"
    assert stat.S_IMODE(home.kiosk_mqtt.stat().st_mode) == 0o600
    assert Endpoint.read(home.kiosk_mqtt).username == "gate-east"
    assert home.kiosk_hub_public.read_bytes() == compound.home.hub_public.read_bytes()
    cfg = tomllib.loads((home.kiosk / "config.toml").read_text())
    assert cfg == {"gate_id": "gate-east", "direction": "out", "pins": {"relay_pin": 5}}
    assert connect_result(Endpoint.read(home.kiosk_mqtt), "t1") == "Success"
    with pytest.raises(kiosk_enroll.EnrollFailed, match="already used"):
        kiosk_enroll.enroll(home, code.text())


def test_expired_cancelled_and_impostor_codes_are_refused(compound, enroll_server, tmp_path):
    home = Home.at(tmp_path / "gate")
    old = enroll.create_code(compound, "gate-a", enroll_server, int(time.time()) - 3600,
                             minutes=10)
    with pytest.raises(kiosk_enroll.EnrollFailed, match="expired"):
        kiosk_enroll.enroll(home, old.text())
    cancelled = enroll.create_code(compound, "gate-b", enroll_server, int(time.time()))
    cancel_codes(compound, "gate-b", int(time.time()))
    with pytest.raises(kiosk_enroll.EnrollFailed, match="cancelled"):
        kiosk_enroll.enroll(home, cancelled.text())
    # A code whose fingerprint is not this hub's: the gate refuses the answer.
    good = enroll.create_code(compound, "gate-c", enroll_server, int(time.time()))
    wrong = enroll.EnrollCode(good.hub_url, good.token, "0" * 32)
    with pytest.raises(kiosk_enroll.EnrollFailed, match="not our hub"):
        kiosk_enroll.enroll(home, wrong.text())
    # A guessed token names no code.
    with pytest.raises(kiosk_enroll.EnrollFailed, match="unknown"):
        kiosk_enroll.enroll(home, enroll.EnrollCode(good.hub_url, "guess", "0" * 32).text())
    assert not home.kiosk_mqtt.exists()


@pytest.fixture
def hub_web(compound, broker_proc, tmp_path):
    """`hub web` as a real process, with one admin."""
    users.add_user(compound.db, "admin", "correct-horse-battery", "admin", int(time.time()))
    port = free_port()
    web = Process([BIN / "hub", "web", "--home", compound.home.root, "--port", port,
                   "--no-cookie-secure"], tmp_path / "web.log").start()
    wait_until(lambda: port_open(port) or not web.running(), 20, message="hub web")
    assert web.running(), web.output()
    yield f"http://127.0.0.1:{port}"
    web.stop()


def test_enroll_by_camera_to_first_accepted_event_then_retire(
        compound, authority, broker_proc, hub_web, tmp_path):
    now = int(time.time())
    texts = [compound.issue_pass(ALICE_ID, "张三丰", "7", "302", now - 86400),
             authority.health(ALICE_ID, Colour.GREEN, now - HOUR, now - 20 * HOUR)]
    compound.publish(now)
    # The office: a code for the new north gate (what the admin page also shows as a QR).
    out = subprocess.run([BIN / "hub", "gate", "enroll", "gate-north", "--home",
                          compound.home.root, "--hub-url", hub_web, "--name", "北门"],
                         capture_output=True, text=True, timeout=30, check=True)
    code_text = out.stdout.strip()
    # The gate: a fresh home, the code held up to its camera.
    gate = Home.at(tmp_path / "gate-north")
    camera = write_frames(tmp_path / "enroll-cam", showing(code_text, frames_each=3))
    done = subprocess.run([BIN / "kiosk", "enroll", "--home", gate.root, "--camera",
                           f"file:{camera}?fps=30", "--timeout", "20"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "gate-north" in done.stdout
    assert tomllib.loads((gate.kiosk / "config.toml").read_text())["gate_id"] == "gate-north"
    # The same code a second time: refused.
    again = subprocess.run([BIN / "kiosk", "enroll", "--home", tmp_path / "other",
                            "--code", code_text], capture_output=True, text=True, timeout=30, check=False)
    assert again.returncode == 1 and "already used" in again.stderr
    # Run the hub and the gate: the gate's first admitted entry reaches the hub.
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
        wait_until(lambda: ("gate-north", "admit") in passages(), 30,
                   message="the gate's first admit at the hub")
        # Retire it: its login is gone, the broker drops it, the next connection is refused.
        ep = Endpoint.read(gate.kiosk_mqtt)
        retire = subprocess.run([BIN / "hub", "gate", "retire", "gate-north", "--home",
                                 compound.home.root], capture_output=True, text=True,
                                timeout=30, check=False)
        assert retire.returncode == 0, retire.stderr
        assert "retired" in retire.stdout and "not running" not in retire.stdout
        wait_until(lambda: "lost the broker" in kiosk.output(), 10,
                   message="the broker to drop the retired gate's connection")
        assert connect_result(ep, "gate-north-again") in ("Not authorized",
                                                          "Bad user name or password")
        row = next(compound.db.query("select retired_at from gates where id = 'gate-north'"))
        assert row["retired_at"] is not None
    finally:
        kiosk.stop()
        hub.stop()


def test_retire_cancels_unused_codes_and_quarantines_what_still_arrives(
        compound, broker_proc, gate_home, enroll_server, tmp_path):
    from hub.ingest import Incoming, ingest
    from hub.policy_versions import current_policy
    gate_home("gate-west")
    code = enroll.create_code(compound, "gate-west", enroll_server, int(time.time()))
    assert retire_gate(compound, "gate-west", int(time.time())) is True
    with pytest.raises(kiosk_enroll.EnrollFailed, match="cancelled"):
        kiosk_enroll.enroll(Home.at(tmp_path / "g"), code.text())
    with pytest.raises(Exception, match="retired"):
        enroll.create_code(compound, "gate-west", enroll_server, int(time.time()))
    result = ingest(compound.db, [Incoming("gatehouse/gate/gate-west/status", b"online",
                                           time.time())], current_policy(compound.db),
                    event_handlers())
    assert result.quarantined == 1


def test_installer_enrollment_waits_for_the_hubs_page(compound, broker_proc, tmp_path):
    """install-kiosk.sh enrolls through deploy/enroll.py: while the hub's page does not
    answer it counts down and tries again; it gives up after --wait seconds."""
    import sys
    from types import SimpleNamespace

    from flask import Flask
    from werkzeug.serving import make_server

    from tests.test_deploy_units import DEPLOY
    port = free_port()
    code = enroll.create_code(compound, "gate-late", f"http://127.0.0.1:{port}", int(time.time()))
    # Nobody answers, and the wait is short: a clear failure, in bounded time.
    started = time.monotonic()
    r = subprocess.run([sys.executable, DEPLOY / "enroll.py", "--home", tmp_path / "g0",
                        "--code", code.text(), "--wait", "1"], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 1 and time.monotonic() - started < 20
    assert "does not answer (" in r.stdout and "giving up in 0:0" in r.stdout
    assert "waited 1 s" in r.stderr and "cannot reach the hub" in r.stderr
    # The page comes up while the gate waits: enrolled.
    proc = Process([sys.executable, DEPLOY / "enroll.py", "--home", tmp_path / "g1", "--code",
                    code.text(), "--wait", "60"], tmp_path / "enroll.log").start()
    server = None
    try:
        wait_until(lambda: "does not answer" in proc.output(), 20, message="a countdown")
        app = mount(Flask("empty").wsgi_app, SimpleNamespace(home=compound.home))
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        wait_until(lambda: not proc.running(), 30, message="enrollment to finish")
        assert "enrolled as gate gate-late" in proc.output()
        assert proc.stop() == 0
        assert Endpoint.read(Home.at(tmp_path / "g1").kiosk_mqtt).username == "gate-late"
        # A refusal is final at once (no waiting on a used code).
        r = subprocess.run([sys.executable, DEPLOY / "enroll.py", "--home", tmp_path / "g2",
                            "--code", code.text(), "--wait", "60"], capture_output=True,
                           text=True, timeout=30, check=False)
        assert r.returncode == 1 and "already used" in r.stderr
        assert "does not answer" not in r.stdout
    finally:
        proc.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
