"""Review s5: a compound's broker login against the district's broker (real nats-server,
its MQTT listener, the logins of tests/district_fixtures.py, a real Mosquitto bridge)."""
from __future__ import annotations

import nats
import paho.mqtt.client as mqtt

from gatehouse.processes import LOOPBACK, wait_until
from tests.test_district_worker_broker import bridged  # noqa: F401  (fixture)

from tests.review_s5_loop import run_async

pytest_plugins = ["tests.district_fixtures"]


class Mqtt:
    """An MQTT client of the district's listener, logged in as one compound."""

    def __init__(self, port: int, user: str, password: str, client_id: str,
                 clean: bool = True, reconnect: bool = True):
        self.got: list[tuple[str, bytes]] = []
        self.subacks: list = []
        self.disconnects = 0
        self.connected = False
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=clean)
        c.username_pw_set(user, password)
        if not reconnect:
            c.reconnect_delay_set(3600, 3600)
        c.on_message = lambda cl, u, m: self.got.append((m.topic, m.payload))
        c.on_subscribe = lambda cl, u, mid, codes, props: self.subacks.append(
            [str(x) for x in codes])
        c.on_connect = lambda cl, u, f, rc, p: setattr(self, "connected", rc == 0)

        def gone(*_):
            self.disconnects += 1
            self.connected = False
        c.on_disconnect = gone
        self.c = c
        c.connect(LOOPBACK, port)
        c.loop_start()
        wait_until(lambda: self.connected, 10, message=f"{user} to connect")

    def subscribe(self, topic: str) -> list[str]:
        n = len(self.subacks)
        self.c.subscribe(topic, 1)
        wait_until(lambda: len(self.subacks) > n, 10, message=f"suback for {topic}")
        return self.subacks[n]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def service_publish(url: str, subject: str, data: bytes) -> None:
    async def go():
        nc = await nats.connect(url)
        await nc.publish(subject, data)
        await nc.flush()
        await nc.close()
    run_async(go)


def test_another_compound_cannot_read_a_neighbours_down_topics(nats_node, nats_url):
    """Held: c2's login subscribing to c1's down topics (orders, acks), to everything, or
    to the MQTT listener's internal delivery subjects is refused; resuming c1's
    persistent session under c1's client id hands it nothing queued for c1."""
    port, pw = nats_node.cfg.mqtt_port, nats_node.cfg.compounds
    c1 = Mqtt(port, "c1", pw["c1"], "probe-c1", clean=False)
    assert c1.subscribe("district/c1/down/#") == ["Granted QoS 1"]
    c1.close()
    service_publish(nats_url, "district.c1.down.orders", b"queued for c1")
    c2 = Mqtt(port, "c2", pw["c2"], "probe-c1", clean=False)
    for topic in ("district/c1/down/#", "#", "$MQTT/sub/#", "district/+/down/orders"):
        assert c2.subscribe(topic) != ["Granted QoS 1"], topic
    service_publish(nats_url, "district.c1.down.orders", b"sent to c1")
    assert c2.subscribe("district/c2/down/#") == ["Granted QoS 1"]
    service_publish(nats_url, "district.c2.down.orders", b"for c2")
    wait_until(lambda: c2.got, 10, message="c2's own order")
    assert c2.got == [("district/c2/down/orders", b"for c2")]
    c2.close()


def test_another_compound_cannot_knock_a_bridge_off(nats_node, bridged):  # noqa: F811
    """D4: nats-server's MQTT listener lets any login take over a session by client id,
    and the bridge's was `compound-<id>` (written in the code and the docs): c2's login
    connecting as `compound-c1` closed c1's bridge, and again each time it came back,
    holding c1's feed and the district's orders away (a neighbour's denial of service).
    The bridge's client id now carries a digest of its password: no other login knows it."""
    local, got, nats_url = bridged
    port, pw = nats_node.cfg.mqtt_port, nats_node.cfg.compounds
    before = len(got)
    thief = Mqtt(port, "c2", pw["c2"], "compound-c1", reconnect=False)
    # The takeover, had it happened, closed the bridge before the thief's CONNACK; its
    # state `0` reaches the hub before a message sent down after it (a reconnect waits
    # at least 2 s, restart_timeout).
    service_publish(nats_url, "district.c1.down.ack", b"marker")
    wait_until(lambda: [p for _, p in got[before:]] and got[-1][1] in (b"marker", b"0"),
               20, message="the marker or the bridge's fall")
    thief.close()
    assert got[-1] == ("gatehouse/district/ack", b"marker"), got[before:]


def retained(url: str) -> tuple[int, int]:
    """(messages, bytes) the MQTT listener keeps as retained messages."""
    async def go():
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().stream_info("$MQTT_rmsgs")
            return info.state.messages, info.state.bytes
        except nats.js.errors.NotFoundError:
            return 0, 0
        finally:
            await nc.close()
    return run_async(go)


def test_a_compound_cannot_fill_the_brokers_disk_with_retained_messages(nats_node, nats_url):
    """D12: a compound may publish anywhere under `district/<cid>/gatehouse/`; a retained
    message on each of 30 topics there (1 MiB each) was kept by nats-server for ever in
    `$MQTT_rmsgs` (43 MB here; three copies on three machines), outside GATEHOUSE_UP's
    bound and every budget: one topic more per message until the disk is full. Only
    the three topics a hub sends on may be written: each keeps one retained message.
    Fixed by H-STORE (a4c4c43)."""
    before = retained(nats_url)
    c2 = Mqtt(nats_node.cfg.mqtt_port, "c2", nats_node.cfg.compounds["c2"], "retain-c2")
    big = b"y" * 1024 * 1024
    infos = [c2.c.publish(f"district/c2/gatehouse/junk/{i}", big, qos=1, retain=True)
             for i in range(30)]
    infos += [c2.c.publish(f"district/c2/gatehouse/hub/district/{leaf}", b"{}", qos=1,
                           retain=True) for leaf in ("feed", "status", "reports")]
    for info in infos:
        info.wait_for_publish(30)
    # Published after the junk on one connection: once it is in the stream, so is the rest.
    c2.c.publish("district/c2/gatehouse/hub/district/status", b"{}", qos=1).wait_for_publish(30)
    c2.close()
    after = retained(nats_url)
    assert after[0] - before[0] <= 3, (before, after)
