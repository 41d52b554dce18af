"""Hub ingest against the broker's own rate, and draining a backlog."""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.sync.common import BROKER_ROUNDS, Child, Env, LOOPBACK, MP, _counter_child, wait_for
from gatehouse import topics
from gatehouse.events import MAX_EVENTS_PER_BATCH
from gatehouse.net import close_client, nodelay


def unacked(conns: list[sqlite3.Connection]) -> int:
    return sum(c.execute("select count(*) from outbox where acked_at is null").fetchone()[0]
               for c in conns)


# Measurements -------------------------------------------------------------------

@dataclass
class Rate:
    seconds: float
    events: int
    messages: int

    @property
    def eps(self) -> float:
        return self.events / self.seconds

    @property
    def mps(self) -> float:
        return self.messages / self.seconds


def median_rate(runs: list[Rate]) -> Rate:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def publish_all(env: Env, payloads: dict[str, list[bytes]],
                timeout: float = 120) -> tuple[float, float]:
    """Plain paho publishers, one per gate (its own credentials), QoS 1, every message
    of every gate interleaved; returns time.monotonic() at the first publish and when
    the last PUBACK came."""
    total = sum(len(v) for v in payloads.values())
    acked = 0
    lock = threading.Lock()
    all_acked = threading.Event()

    def on_publish(client, userdata, mid, reason_code, properties):
        nonlocal acked
        with lock:
            acked += 1
            if acked == total:
                all_acked.set()

    clients = []
    try:
        for g in env.gates:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{g.id}",
                            protocol=mqtt.MQTTv5)
            c.username_pw_set(g.ep.username, g.ep.password)
            c.max_inflight_messages_set(16)   # what a HubLink allows (window * 2)
            c.on_socket_open = nodelay
            c.on_publish = on_publish
            c.connect(LOOPBACK, env.port)
            c.loop_start()
            clients.append((g, c))
        wait_for(lambda: all(c.is_connected() for _, c in clients), 10, "publishers")
        t0 = time.monotonic()
        longest = max(len(v) for v in payloads.values())
        for i in range(longest):
            for g, c in clients:
                if i < len(payloads[g.id]):
                    c.publish(topics.gate_events(g.id), payloads[g.id][i], qos=1)
        if not all_acked.wait(timeout):
            raise TimeoutError(f"only {acked} of {total} PUBACKs in {timeout} s")
        return t0, time.monotonic()
    finally:
        for _, c in clients:
            close_client(c)


def repeated(payloads: dict[str, list[bytes]]) -> dict[str, list[bytes]]:
    """The same batch set BROKER_ROUNDS times over: long enough a run to time."""
    return {gate: msgs * BROKER_ROUNDS for gate, msgs in payloads.items()}


def broker_alone(env: Env, payloads, events: int) -> Rate:
    t0, t1 = publish_all(env, repeated(payloads))
    return Rate(t1 - t0, events * BROKER_ROUNDS,
                sum(len(v) for v in payloads.values()) * BROKER_ROUNDS)


def broker_to_counter(env: Env, payloads, events: int) -> Rate:
    payloads = repeated(payloads)
    events *= BROKER_ROUNDS
    total = sum(len(v) for v in payloads.values())
    done_at = MP.Value("d", 0.0)
    counter = Child(_counter_child, env.port, env.hub_ep.password, total, done_at).start()
    try:
        t0, _ = publish_all(env, payloads)
        wait_for(lambda: done_at.value > 0, 60, "the counting subscriber", every=0.01)
        return Rate(done_at.value - t0, events, total)
    finally:
        counter.close()


def hub_ingest(env: Env, per_gate: int, timeout: float = 120) -> Rate:
    """Links start with a full outbox; done when no gate has an unacknowledged row."""
    env.prefill(per_gate)
    before = env.hub_events()
    conns = env.backlogs()
    try:
        assert unacked(conns) == per_gate * len(env.gates)
        links = env.make_links()
        t0 = time.monotonic()
        for link in links:
            link.start()
        t1 = wait_for(lambda: unacked(conns) == 0, timeout, "every row acknowledged")
    finally:
        for c in conns:
            c.close()
        env.stop_links()
    stored = env.hub_events() - before
    events = per_gate * len(env.gates)
    if stored != events:
        raise AssertionError(f"the hub stored {stored} of {events} events")
    batches = -(-per_gate // MAX_EVENTS_PER_BATCH) * len(env.gates)
    return Rate(t1 - t0, events, batches)


@dataclass
class Throughput:
    label: str
    gates: int
    per_gate: int
    alone: list[Rate] = field(default_factory=list)
    counter: list[Rate] = field(default_factory=list)
    hub: list[Rate] = field(default_factory=list)


def throughput(root: Path, gates: int, per_gate: int, repeats: int, say) -> Throughput:
    result = Throughput(f"{gates} gate{'s' if gates > 1 else ''} x {per_gate:,} events",
                        gates, per_gate)
    events = gates * per_gate
    with Env(root, gates) as env:
        # The broker alone first: no hub session exists yet, so nothing is queued for it.
        env.prefill(per_gate)
        payloads = env.payloads()
        for _ in range(repeats):
            result.alone.append(broker_alone(env, payloads, events))
            result.counter.append(broker_to_counter(env, payloads, events))
        # Those rows stay in the outboxes, unacknowledged: mark them, so the hub runs
        # below send only their own fresh rows.
        for g in env.gates:
            c = sqlite3.connect(g.home.kiosk_db, timeout=5)
            with c:
                c.execute("update outbox set acked_at = 0 where acked_at is null")
            c.close()
        say(f"  broker alone {median_rate(result.alone).eps:,.0f} ev/s, to a counter "
            f"{median_rate(result.counter).eps:,.0f} ev/s")
        env.start_hub()
        for _ in range(repeats):
            result.hub.append(hub_ingest(env, per_gate))
            say(f"  hub {result.hub[-1].eps:,.0f} ev/s ({result.hub[-1].seconds:.2f} s)")
    return result


def drain(root: Path, n: int, say) -> Rate:
    with Env(root, 1) as env:
        env.start_hub()
        rate = hub_ingest(env, n, timeout=120)
        say(f"  drained {n:,} in {rate.seconds:.2f} s")
        return rate
