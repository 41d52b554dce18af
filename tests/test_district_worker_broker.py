"""The district broker as a compound sees it: a real Mosquitto bridged (hub/broker.py's
bridge_conf) into nats-server's MQTT listener; the feed lands in the stream, a core-NATS
publish comes down as MQTT, a compound cannot write under another's prefix; and the
three-node cluster keeps the stream on three replicas."""
from __future__ import annotations

import asyncio
import getpass
import time

import nats
import paho.mqtt.client as mqtt
import pytest

from district import aio
from district.nats_local import CONSUMER, STREAM, ensure_stream, subject_up
from gatehouse.processes import LOOPBACK, Process, free_port, port_open, wait_until
from hub.broker import bridge_conf

pytest_plugins = ["tests.district_fixtures"]


@pytest.fixture
def bridged(nats_node, nats_url, tmp_path):
    """A compound's Mosquitto (anonymous, loopback) bridged to the node as c1."""
    from tests.district_fixtures import need
    need("mosquitto")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} {LOOPBACK}\nallow_anonymous true\n"
                    + bridge_conf("c1", LOOPBACK, nats_node.cfg.mqtt_port, "c1",
                                  nats_node.cfg.compounds["c1"]))
    proc = Process(["mosquitto", "-c", conf], tmp_path / "mosquitto.log").start()
    wait_until(lambda: port_open(port) or not proc.running(), 10, message="mosquitto")
    local = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hub")
    got: list[tuple[str, bytes]] = []
    local.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    local.connect(LOOPBACK, port)
    local.loop_start()
    local.subscribe("gatehouse/district/#", 1)
    local.subscribe("$SYS/broker/connection/#", 1)
    # The bridge says 1 on its state topic once it is connected to the district.
    wait_until(lambda: any(t.endswith("/state") and p == b"1" for t, p in got), 20,
               message="the bridge to connect")
    yield local, got, nats_url
    local.loop_stop()
    local.disconnect()
    proc.stop()


def stream_messages(url: str, want: int, timeout: float = 10) -> list[tuple[str, bytes]]:
    async def go() -> list[tuple[str, bytes]]:
        nc = await nats.connect(url)
        sub = await nc.jetstream().pull_subscribe_bind(CONSUMER, STREAM)
        out: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            try:
                for m in await sub.fetch(want - len(out), timeout=0.5):
                    out.append((m.subject, m.data))
                    await m.ack()
            except nats.errors.TimeoutError:
                pass
        await nc.close()
        return out
    return aio.run(go())


def test_the_bridge_feeds_the_stream_and_the_district_answers_down(bridged):
    local, got, url = bridged
    local.publish("gatehouse/hub/district/feed", b'{"feed":1}', qos=1).wait_for_publish(5)
    local.publish("gatehouse/hub/district/status", b'{"status":1}', qos=1).wait_for_publish(5)
    assert sorted(stream_messages(url, 2)) == [
        (subject_up("c1", "feed"), b'{"feed":1}'),
        (subject_up("c1", "status"), b'{"status":1}')]

    async def down() -> None:
        nc = await nats.connect(url)
        await nc.publish("district.c1.down.ack", b'{"ack":1}')
        await nc.publish("district.c2.down.ack", b'{"not":"ours"}')
        await nc.close()
    aio.run(down())
    wait_until(lambda: ("gatehouse/district/ack", b'{"ack":1}') in got, 10,
               message="the ack to come down the bridge")
    assert ("gatehouse/district/ack", b'{"not":"ours"}') not in got


def test_a_compound_writes_under_its_own_prefix_only(nats_node, nats_url):
    c1 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="c1-direct")
    c1.username_pw_set("c1", nats_node.cfg.compounds["c1"])
    c1.connect(LOOPBACK, nats_node.cfg.mqtt_port)
    c1.loop_start()
    try:
        # NATS drops a publish it does not permit (MQTT 3.1.1 has no refusal to give).
        c1.publish("district/c2/gatehouse/hub/district/feed", b"forged", qos=1)
        c1.publish("district/c1/gatehouse/hub/district/feed", b"own", qos=1).wait_for_publish(5)
    finally:
        c1.loop_stop()
        c1.disconnect()
    # One connection's messages keep their order: the forged one, had it been let in,
    # would be first; once "own" is read (and acked), nothing else is in the stream.
    assert stream_messages(nats_url, 1) == [(subject_up("c1", "feed"), b"own")]

    async def left() -> int:
        nc = await nats.connect(nats_url)
        info = await nc.jetstream().stream_info(STREAM)
        await nc.close()
        return info.state.messages
    assert aio.run(left()) == 0


def test_three_nodes_keep_the_stream_on_three_replicas(nats_cluster_factory):
    nodes = nats_cluster_factory()

    async def go() -> tuple[int, list[str]]:
        nc = await nats.connect(nodes[0].url)
        for _ in range(100):   # the cluster elects its JetStream leader first
            try:
                await ensure_stream(nc, replicas=3)
                break
            except Exception:  # noqa: BLE001 (not ready yet)
                await asyncio.sleep(0.2)
        info = await nc.jetstream().stream_info(STREAM)
        await nc.close()
        return info.config.num_replicas, [info.cluster.leader, *[r.name for r in
                                                                 info.cluster.replicas]]
    replicas, where = aio.run(go())
    assert replicas == 3 and sorted(where) == ["n1", "n2", "n3"]
    # A compound's MQTT publish on node 2 is read from node 3.
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="c1-n2")
    c.username_pw_set("c1", nodes[1].cfg.compounds["c1"])
    c.connect(LOOPBACK, nodes[1].cfg.mqtt_port)
    c.loop_start()
    c.publish("district/c1/gatehouse/hub/district/feed", b"via-n2", qos=1).wait_for_publish(10)
    c.loop_stop()
    c.disconnect()
    assert stream_messages(nodes[2].url, 1) == [(subject_up("c1", "feed"), b"via-n2")]


def test_a_bridge_over_tls(tmp_path):
    """The MQTT listener with the office's certificate; the bridge checks it (--cafile)."""
    from district.nats_local import NatsNode
    from hub.broker import BrokerFiles, make_tls
    from tests.district_fixtures import fresh_stream, need, node_config
    need("mosquitto")
    need("nats-server")
    files = BrokerFiles.in_folder(tmp_path / "certs")
    make_tls(files, ["127.0.0.1"])
    cfg = node_config(tmp_path)
    cfg.mqtt_tls = (files.tls / "server.crt", files.tls / "server.key")
    node = NatsNode(cfg, tmp_path / "tls.conf", tmp_path / "tls.log").start()
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # As hub/broker.py has it: started as root, Mosquitto would drop to a user that
    # cannot read the CA in this test's directory.
    conf.write_text(f"user {getpass.getuser()}\nlistener {port} {LOOPBACK}\n"
                    "allow_anonymous true\n"
                    + bridge_conf("c1", LOOPBACK, cfg.mqtt_port, "c1", cfg.compounds["c1"],
                                  files.ca_cert))
    bridge = Process(["mosquitto", "-c", conf], tmp_path / "mosquitto.log").start()
    try:
        fresh_stream(node.url)
        wait_until(lambda: port_open(port) or not bridge.running(), 10, message="mosquitto")
        local = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hub")
        local.connect(LOOPBACK, port)
        local.loop_start()
        # Sent before the bridge is up is fine: it queues (clean session off).
        local.publish("gatehouse/hub/district/feed", b"over-tls", qos=1).wait_for_publish(5)
        assert stream_messages(node.url, 1, timeout=20) == \
            [(subject_up("c1", "feed"), b"over-tls")]
        local.loop_stop()
        local.disconnect()
    finally:
        bridge.stop()
        node.stop()


def test_the_login_goes_beside_the_urls_not_in_them():
    from district.nats_local import connect_options
    assert connect_options(["nats://district:p%40ss@10.0.0.1:4222", "nats://10.0.0.2"]) == {
        "servers": ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"],
        "user": "district", "password": "p@ss"}


def test_a_compound_reads_its_own_down_only(nats_node, nats_url):
    got: list[tuple[str, bytes]] = []
    acked: list[int] = []
    c2 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="c2-direct")
    c2.username_pw_set("c2", nats_node.cfg.compounds["c2"])
    c2.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    c2.on_subscribe = lambda c, u, mid, codes, props: acked.append(mid)
    c2.connect(LOOPBACK, nats_node.cfg.mqtt_port)
    c2.loop_start()
    try:
        topics = ("district/c1/down/#", "district/+/down/#", "#", "$MQTT/sub/#",
                  "district/c2/down/#")
        for topic in topics:
            c2.subscribe(topic, 1)
        wait_until(lambda: len(acked) == len(topics), 10, message="the SUBACKs")

        async def down() -> None:
            nc = await nats.connect(nats_url)
            # In this order on one connection: had c1's been let through, it came first.
            await nc.publish("district.c1.down.orders", b"for-c1")
            await nc.publish("district.c2.down.orders", b"for-c2")
            await nc.close()
        aio.run(down())
        wait_until(lambda: any(p == b"for-c2" for _, p in got), 10, message="c2's own")
        assert all(p != b"for-c1" for _, p in got), got
    finally:
        c2.loop_stop()
        c2.disconnect()
