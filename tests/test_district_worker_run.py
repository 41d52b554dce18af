"""`district run`: one machine from its home (PostgreSQL, a broker node, workers, the
order sender), a compound joining while it runs, and a clean stop on SIGTERM."""
from __future__ import annotations

import json
import signal
import sys
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from click.testing import CliRunner

from district.cli import main
from district.db import connect
from district.pg_local import PgCluster
from gatehouse.district_wire import FeedBatch, FeedEvent, OrderList
from gatehouse.events import dump
from gatehouse.processes import LOOPBACK, Process, port_open, wait_until

pytest_plugins = ["tests.district_fixtures"]

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def compound_client(port: int, cid: str, password: str, got: list) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bridge-{cid}")
    c.username_pw_set(cid, password)
    c.on_message = lambda _c, _u, m: got.append(m)
    c.connect(LOOPBACK, port)
    c.loop_start()
    c.subscribe(f"district/{cid}/down/#", 1)
    return c


def feed(cid: str, n: int) -> bytes:
    return dump(FeedBatch(compound=cid, sent_at=T0, events=[
        FeedEvent(cseq=i, id=uuid.uuid4().hex, gate="g1", gate_seq=i, kind="attempt",
                  at=T0 + i) for i in range(1, n + 1)]))


def stored(dsn: str, cid: str) -> int:
    with connect(dsn) as conn:
        return conn.execute("select count(*) from events where compound = %s",
                            [cid]).fetchone()[0]


def test_district_run_on_one_machine(district_home, tmp_path):
    home = str(district_home.root)
    joined = cli("compound", "add", "c1", "--home", home)
    assert "hub district link --compound-id c1" in joined
    assert f"hub district trust --id d1" in joined
    cfg = district_home.config()
    run = Process([sys.executable, "-m", "district.cli", "run", "--home", home],
                  tmp_path / "run.log").start()
    clients: list[mqtt.Client] = []
    try:
        wait_until(lambda: "ready" in run.output() or not run.running(), 90,
                   message="district run to be ready")
        assert run.running(), run.tail()
        dsn = district_home.dsn()
        got: list = []
        clients.append(compound_client(cfg.mqtt_port, "c1",
                                       district_home.secrets()["compounds"]["c1"], got))
        clients[0].publish("district/c1/gatehouse/hub/district/feed", feed("c1", 20), qos=1)
        wait_until(lambda: stored(dsn, "c1") == 20, 30, 0.1, "c1's events stored")
        wait_until(lambda: any(m.topic == "district/c1/down/ack" for m in got), 10,
                   message="c1's ack")
        # An order reaches the compound's bridge through the running sender.
        cli("order", "seal", "c1", "7", "--home", home, "--by", "office")
        wait_until(lambda: any(m.topic == "district/c1/down/orders" and
                               OrderList.model_validate_json(m.payload).orders
                               for m in got), 15, message="the order to come down")
        # A compound added while it runs may log in at once (the broker reloads).
        assert "reloaded" in cli("compound", "add", "c2", "--home", home)
        clients.append(compound_client(cfg.mqtt_port, "c2",
                                       district_home.secrets()["compounds"]["c2"], []))
        clients[1].publish("district/c2/gatehouse/hub/district/feed", feed("c2", 3), qos=1)
        wait_until(lambda: stored(dsn, "c2") == 3, 30, 0.1, "c2's events stored")
        status = json.loads(cli("status", "--home", home))
        assert (status["compounds"], status["online"], status["gaps"]) == (2, 0, {})
        assert set(status["stream"]) == {"waiting", "unacked"}
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        code = run.stop(signal.SIGTERM, timeout=60)
    assert code == 0, run.tail()
    assert "district stopped" in run.output()
    assert not PgCluster(district_home.pg).running()
    assert not port_open(cfg.mqtt_port) and not port_open(cfg.nats_port)
