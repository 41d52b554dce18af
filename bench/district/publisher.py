"""Simulated compound bridges: one MQTT client per compound, as a Mosquitto bridge
connects (MQTT 3.1.1, clean session false, client id per compound, QoS 1, at most 20
messages in flight, round-robin over the district's addresses when a node goes away),
publishing FeedBatch messages under district/<cid>/gatehouse/hub/district/feed.

Run: python -m bench.district.publisher --hosts H:P,... --first 0 --count 100 ... --out F
Writes F (JSON): per compound, the batches sent (first cseq) and whether a PUBACK came
back for each; the time of the first publish and of the last PUBACK.
"""
from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.district.feed import FEED_TOPIC, batch, compound_id

INFLIGHT = 20  # a Mosquitto bridge's max_inflight_messages default


class Bridge:
    def __init__(self, cid: str, hosts: list[tuple[str, int]], start: int,
                 password_prefix: str | None = None):
        self.cid, self.hosts, self.at = cid, hosts, start
        self.lock = threading.Lock()
        self.pending: dict[int, int] = {}   # mid -> first cseq
        self.acked: set[int] = set()
        self.early: set[int] = set()
        self.sent: list[int] = []
        self.connected = threading.Event()
        self.reconnects = 0
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bridge-{cid}",
                        clean_session=False, protocol=mqtt.MQTTv311)
        if password_prefix is not None:   # the district's login per compound
            c.username_pw_set(cid, password_prefix + cid)
        c.max_inflight_messages_set(INFLIGHT)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(1, 2)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_connect_fail = self._on_connect_fail
        c.on_publish = self._on_publish
        self.client = c

    def _on_connect(self, client, userdata, flags, reason, props) -> None:
        if not reason.is_failure:
            self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason, props) -> None:
        # As a bridge with several addresses: the next one on the next try.
        self.connected.clear()
        if reason.is_failure:   # not our own disconnect at the end
            self.reconnects += 1
        self.at += 1
        host, port = self.hosts[self.at % len(self.hosts)]
        client._host, client._port = host, port

    def _on_connect_fail(self, client, userdata) -> None:
        # A node that is down refuses the connection: no disconnect callback then.
        self.at += 1
        client._host, client._port = self.hosts[self.at % len(self.hosts)]

    def _on_publish(self, client, userdata, mid, reason, props) -> None:
        # Never call into paho while holding self.lock: paho runs this callback under
        # its own lock, and publish() takes that one (a deadlock that stalled a client).
        with self.lock:
            first = self.pending.pop(mid, None)
            if first is None:
                self.early.add(mid)     # PUBACK before publish() returned
            else:
                self.acked.add(first)

    def connect(self) -> None:
        host, port = self.hosts[self.at % len(self.hosts)]
        self.client.connect_async(host, port, keepalive=10)
        self.client.loop_start()

    def publish(self, run: str, first: int, events: int, day_start: float) -> None:
        payload = batch(run, self.cid, first, events, time.time(), day_start)
        info = self.client.publish(FEED_TOPIC.format(cid=self.cid), payload, qos=1)
        with self.lock:
            self.sent.append(first)
            if info.mid in self.early:
                self.early.discard(info.mid)
                self.acked.add(first)
            else:
                self.pending[info.mid] = first

    def unacked(self) -> int:
        with self.lock:
            return len(self.pending)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hosts", required=True)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--batches", type=int, default=10, help="batches per compound")
    p.add_argument("--events", type=int, default=50, help="events per batch")
    p.add_argument("--interval", type=float, default=0.0, help="s between a compound's batches")
    p.add_argument("--run", required=True)
    p.add_argument("--day-start", type=float, required=True)
    p.add_argument("--resend", type=Path, help="JSON {cid: [first cseq, ...]}: send only these")
    p.add_argument("--wait", type=float, default=300, help="s to wait for the last PUBACK")
    p.add_argument("--go", type=Path, help="start publishing once this file exists")
    p.add_argument("--password-prefix", help="log in as the compound, password PREFIX<cid>")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    hosts = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in a.hosts.split(",")]
    bridges = [Bridge(compound_id(i), hosts, i, a.password_prefix)
               for i in range(a.first, a.first + a.count)]
    for b in bridges:
        b.connect()
    # Up to a minute for all to connect; the rest publish into paho's queue meanwhile
    # (as a bridge queues while its district link is down).
    deadline = time.monotonic() + 60
    for b in bridges:
        b.connected.wait(max(0.0, deadline - time.monotonic()))
    plan: dict[str, list[int]]
    if a.resend:
        wanted = json.loads(a.resend.read_text())
        plan = {b.cid: wanted.get(b.cid, []) for b in bridges}
    else:
        plan = {b.cid: [1 + k * a.events for k in range(a.batches)] for b in bridges}
    if a.go:
        while not a.go.exists():
            time.sleep(0.01)
    t0 = time.time()
    rounds = max((len(v) for v in plan.values()), default=0)
    for k in range(rounds):
        for b in bridges:
            if k < len(plan[b.cid]):
                b.publish(a.run, plan[b.cid][k], a.events, a.day_start)
        if a.interval:
            time.sleep(max(0.0, t0 + (k + 1) * a.interval - time.time()))
    t_sent = time.time()
    deadline = time.monotonic() + a.wait
    while any(b.unacked() for b in bridges) and time.monotonic() < deadline:
        time.sleep(0.02)
    t_acked = time.time()
    for b in bridges:
        b.client.disconnect()
        b.client.loop_stop()
    a.out.write_text(json.dumps({
        "t0": t0, "t_sent": t_sent, "t_acked": t_acked,
        "reconnects": sum(b.reconnects for b in bridges),
        "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "compounds": {b.cid: {"sent": b.sent, "acked": sorted(b.acked)} for b in bridges}}))


if __name__ == "__main__":
    main()
