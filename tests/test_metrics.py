"""/metrics read by a real Prometheus text parser matches a running compound: a real
Mosquitto, the hub's MQTT side and outbox worker as `hub serve` runs them, a real kiosk
process refusing red codes, a second gate that never came up; /healthz says which part
fails; who may read /metrics."""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo.scenes import showing, write_frames
from gatehouse.codes import Colour
from hub import notify, schema
from hub.alert_delivery import config_path
from hub.alert_rules import AlertRoute, AlertRules, RouteChannel, save_rules
from hub.gates import read_endpoint
from hub.health import HealthApp, HealthServer, serve_health, token_path
from hub.sync import HubSync, SyncConfig
from hub.web import WebConfig, create_app
from tests.conftest import ALICE_ID, HOUR
from tests.processes import kiosk_process, wait_until
from tests.test_alert_delivery import robot  # noqa: F401
from hub.features import event_handlers


def scrape(url: str, headers: dict | None = None) -> dict:
    """{(name, labels as a sorted tuple): value} from a real Prometheus text parse."""
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_metrics_match_a_running_compound(compound, authority, broker_proc, gate_home, robot,  # noqa: F811
                                          tmp_path):
    now = int(time.time())
    texts = [compound.issue_pass(ALICE_ID, "张三丰", "7", "302", now - 86400),
             authority.health(ALICE_ID, Colour.RED, now - HOUR, now - 20 * HOUR)]
    compound.publish(now)
    north = gate_home("gate-north")
    gate_home("gate-south")                   # enrolled, never started: offline
    # A DingTalk robot whose secret was changed at DingTalk: every alert fails for good.
    save_rules(config_path(compound.home.hub), AlertRules((AlertRoute(
        "street", RouteChannel.DINGTALK, robot.dingtalk(), "SECchanged", burst_s=0),)))
    # `hub serve`'s parts, as hub/app_serve.py wires them.
    ep = read_endpoint(compound.home.hub_mqtt)
    sync = HubSync(SyncConfig(ep.host, ep.port, ep.password, ep.username),
                   compound.home.hub_db, compound.home.hub_bundle, compound.key, event_handlers())
    sync.start()
    worker = notify.notify_worker(compound.home.hub_db, None, interval=0.5).start()
    server = serve_health(compound.home, sync, port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    frames = write_frames(tmp_path / "red", showing(*texts, frames_each=3, gap=2, tail=10))
    kiosk = kiosk_process(north, f"file:{frames}?fps=15&loop=1", tmp_path / "kiosk.log",
                          cooldown_s=0.3, attempt_window_s=1, gate_id="gate-north",
                          heartbeat_s=1)
    kiosk.start()
    db = schema.open_db(compound.home.hub_db)
    try:
        def seen():
            return (db.execute("select count(*) from notifications where state = 'failed'")
                    .fetchone()[0] >= 1 and db.execute(
                        "select count(*) from alerts where kind = 'HEALTH_RED'").fetchone()[0]
                    and db.execute(
                        "select heartbeat_at from gates where id = 'gate-north'").fetchone()[0])
        wait_until(seen, 60, message="a red code's alert failing at DingTalk, a heartbeat")
        status, doc = health(base + "/healthz")
        assert status == 200 and doc["ok"], doc
        assert doc["checks"]["broker"]["ok"] and doc["checks"]["writer"]["ok"]
        kiosk.stop()                               # the state now holds still
        wait_until(lambda: db.execute("select online from gates where id = 'gate-north'")
                   .fetchone()[0] == 0, 20, message="the gate's last will")
        time.sleep(1.0)                            # the last passes of the worker
        m = scrape(base + "/metrics")
        at = time.time()
        # What the database holds, read here with plain SQL.
        q = lambda sql, *a: db.execute(sql, a).fetchall()  # noqa: E731
        assert m[("gatehouse_gates", (("state", "online"),))] == 0
        assert m[("gatehouse_gates", (("state", "offline"),))] == 2
        assert m[("gatehouse_gate_up", (("gate", "gate-north"),))] == 0
        beat_at, beat = q("select heartbeat_at, heartbeat from gates where id = 'gate-north'")[0]
        age = m[("gatehouse_gate_heartbeat_age_seconds", (("gate", "gate-north"),))]
        assert at - beat_at - 2 <= age <= at - beat_at
        assert ("gatehouse_gate_heartbeat_age_seconds", (("gate", "gate-south"),)) not in m
        assert m[("gatehouse_gate_outbox_backlog", (("gate", "gate-north"),))] == \
            json.loads(beat)["outbox"]
        for kind, n in q("select kind, count(*) from alerts where acked_at is null group by kind"):
            assert m[("gatehouse_open_alerts", (("kind", kind),))] == n
        assert m[("gatehouse_open_alerts", (("kind", "all"),))] == \
            q("select count(*) from alerts where acked_at is null")[0][0] >= 2
        assert {"HEALTH_RED", "mock_pins"} <= {
            k for (name, labels), _ in m.items() if name == "gatehouse_open_alerts"
            for _, k in labels}
        failed = q("select count(*) from notifications where state = 'failed'")[0][0]
        assert m[("gatehouse_notifications_failed", ())] == failed >= 1
        assert m[("gatehouse_notifications", (("kind", "alert"), ("state", "failed")))] == failed
        assert m[("gatehouse_quarantined_events", ())] == q("select count(*) from quarantine")[0][0]
        assert not [k for k in m if k[0] == "gatehouse_parcels"]       # no parcels today
        assert m[("gatehouse_broker_connected", ())] == 1
        assert m[("gatehouse_writer_waiting_messages", ())] == 0
        assert m[("gatehouse_events_ingested_total", ())] == sync.health().ingested > 0
        events_5m = q("select count(*) from gate_events where received_at >= ?", at - 300)[0][0]
        assert m[("gatehouse_events_received_5m", ())] == events_5m > 0
        assert 0 <= m[("gatehouse_ingest_lag_max_seconds", ())] < 30
        # The broker goes away: /healthz says it is the broker, with a 503.
        broker_proc.stop()
        wait_until(lambda: health(base + "/healthz")[0] == 503, 30, message="a 503")
        status, doc = health(base + "/healthz")
        assert not doc["checks"]["broker"]["ok"] and doc["checks"]["database"]["ok"]
    finally:
        kiosk.stop()
        server.stop()
        worker.stop()
        sync.stop()
        db.close()


def test_metrics_need_loopback_or_the_token_and_health_needs_no_login(compound, tmp_path):
    app = create_app(WebConfig(home=compound.home, secret_key=b"k" * 32))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200            # the test client is 127.0.0.1
    lan = {"REMOTE_ADDR": "192.168.1.50"}
    assert client.get("/metrics", environ_base=lan).status_code == 401
    path = token_path(compound.home)
    path.write_text("t0ken-for-prometheus\n")
    os.chmod(path, 0o600)
    auth = {"Authorization": "Bearer t0ken-for-prometheus"}
    assert client.get("/metrics", environ_base=lan, headers=auth).status_code == 200
    assert client.get("/metrics", environ_base=lan,
                      headers={"Authorization": "Bearer guess"}).status_code == 401
    os.chmod(path, 0o644)                                    # readable by others: no token
    assert client.get("/metrics", environ_base=lan, headers=auth).status_code == 401
    # Another name than the hub's: the Host allowlist answers first.
    assert client.get("/metrics", headers={"Host": "evil.example"}).status_code == 421
    body = client.get("/healthz").get_json()
    assert set(body["checks"]) == {"process", "database"}


def test_health_says_the_database_is_unreadable(tmp_path):
    db_path = tmp_path / "hub.db"
    schema.open_db(db_path).close()
    server = HealthServer(HealthApp(db_path)).start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        assert health(url)[0] == 200
        db_path.write_bytes(b"not a database" * 100)
        for extra in ("-wal", "-shm"):
            (tmp_path / f"hub.db{extra}").unlink(missing_ok=True)
        status, doc = health(url)
        assert status == 503 and not doc["checks"]["database"]["ok"]
        assert "not a database" in doc["checks"]["database"]["error"]
    finally:
        server.stop()


@pytest.mark.parametrize("value, text", [(3, "3"), (0.25, "0.25"), (True, "1")])
def test_numbers_are_written_as_prometheus_reads_them(value, text):
    from hub.metrics import Family, render
    out = render([Family("x", "a test").add(value, gate='a"b')])
    assert f'gatehouse_x{{gate="a\\"b"}} {text}' in out
    fam = next(text_string_to_metric_families(out))
    assert fam.samples[0].labels == {"gate": 'a"b'} and fam.samples[0].value == float(value)
