"""Sync throughput and latency over a real Mosquitto, on loopback (127.0.0.1) only.

Run: .venv/bin/python -m bench.sync [--quick] [--out FILE]

1. Hub ingest: real HubLinks (one kiosk Store each, outbox pre-filled) send to a real
   HubSync through Mosquitto; timed from the links' start until every row is
   acknowledged end to end (the gate's outbox has no unacknowledged row left).
   Beside it, the broker's own rate for the same batch payloads: plain paho
   publishers, QoS 1, alone (until every PUBACK) and to a plain counting subscriber
   (until it has counted every message).
2. Draining a 100,000-event backlog from one gate.
3. Bundle propagation: the hub writes a new bundle (Compound.set_building), HubSync
   publishes it, and each of 10 gates' HubLinks verifies and writes it.

The hub (HubSync) and the counting subscriber run in a child process of their own, as
`hub serve` would; the gates' links run in this process, the broker in its own. The
whole compound, broker included, lives in temporary directories; every process this
bench starts is stopped in a `finally`, and every wait has a deadline.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing as mp
import os
import platform
import queue
import random
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.db import write_transaction
from gatehouse.endpoint import Endpoint
from gatehouse.events import MAX_EVENTS_PER_BATCH, EventBatch, EventKind, dump
from gatehouse.home import Home
from gatehouse.net import close_client, nodelay
from gatehouse.policy import BuildingStatus
from hub.compound import Compound
from hub.gates import add_gate, setup_broker
from kiosk.bundles import BundleCache, hub_key
from kiosk.clock import ClockJudge
from kiosk.link import HubLink, LinkConfig
from kiosk.store import Store

LOOPBACK = "127.0.0.1"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
BROKER_ROUNDS = 10           # the broker baseline sends the batch set this often over
CHILD_MAX_S = 600.0          # a child process never outlives this, whatever happens
MP = mp.get_context("spawn")


@dataclass(frozen=True)
class Plan:
    one_gate: int = 20_000       # events, 1 gate
    ten_gates: int = 5_000       # events per gate, 10 gates
    drain: int = 100_000         # events, 1 gate
    changes: int = 50            # bundle changes, 10 gates
    repeats: int = 3             # throughput runs per row (median reported)


QUICK = Plan(one_gate=10_000, ten_gates=2_000, drain=100_000, changes=20, repeats=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((LOOPBACK, port)) == 0


def wait_for(condition, timeout: float, what: str, every: float = 0.005) -> float:
    """Poll until true; returns time.monotonic() when it was seen; raises at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def mosquitto_version() -> str:
    try:
        out = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True, timeout=10,
                             check=False)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


# The hub and the counting subscriber: child processes -----------------------------

def _hub_child(root: str, ready, stop) -> None:
    from gatehouse.codes.keys import SigningKey
    from hub.sync import HubSync, SyncConfig
    logging.basicConfig(level=logging.WARNING)
    home = Home.at(root)
    ep = Endpoint.read(home.hub_mqtt)
    assert ep.host == LOOPBACK
    sync = HubSync(SyncConfig(ep.host, ep.port, ep.password), home.hub_db, home.hub_bundle,
                   SigningKey.load(home.hub_key))
    sync.start()
    try:
        if sync.connected.wait(10):
            ready.set()
            stop.wait(CHILD_MAX_S)
    finally:
        sync.stop()


def _counter_child(port: int, password: str, expected: int, done_at, ready, stop) -> None:
    """A plain subscriber (as the hub user) that counts event messages, nothing else."""
    count = 0
    subscribed = threading.Event()
    finished = threading.Event()

    def on_message(client, userdata, msg):
        nonlocal count
        count += 1
        if count == expected:
            done_at.value = time.monotonic()
            finished.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-counter-{os.getpid()}",
                    protocol=mqtt.MQTTv5)
    c.username_pw_set("hub", password)
    c.on_socket_open = nodelay
    c.on_connect = lambda cl, *a: cl.subscribe(topics.GATE_ANY_EVENTS, qos=1)
    c.on_subscribe = lambda *a: subscribed.set()
    c.on_message = on_message
    c.connect(LOOPBACK, port)
    c.loop_start()
    try:
        if subscribed.wait(10):
            ready.set()
            deadline = time.monotonic() + 120
            while not (finished.wait(0.05) or stop.is_set() or time.monotonic() > deadline):
                pass
    finally:
        close_client(c)


class Child:
    """A spawned child process, stopped (then terminated, then killed) on close."""

    def __init__(self, target, *args, ready_timeout: float = 15.0):
        self.ready, self.stop_evt = MP.Event(), MP.Event()
        self.proc = MP.Process(target=target, args=(*args, self.ready, self.stop_evt),
                               daemon=True)
        self.ready_timeout = ready_timeout

    def start(self) -> Child:
        self.proc.start()
        if not self.ready.wait(self.ready_timeout):
            self.close()
            raise TimeoutError(f"{self.proc.name} was not ready in {self.ready_timeout} s")
        return self

    def close(self, timeout: float = 10.0) -> None:
        self.stop_evt.set()
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# The compound, its broker and its gates --------------------------------------------

@dataclass
class Gate:
    id: str
    home: Home
    ep: Endpoint


class Env:
    """A compound with its own Mosquitto on a free loopback port and `gates` gates."""

    def __init__(self, root: Path, gates: int):
        self.root = root
        self.compound = Compound.create(Home.at(root / "hub"), "bench", int(time.time()))
        self.port = free_port()
        files = setup_broker(self.compound.home, self.port, bind=LOOPBACK, host=LOOPBACK)
        self._log = open(root / "mosquitto.log", "ab")  # noqa: SIM115 (closed in close())
        self.broker = subprocess.Popen([MOSQUITTO, "-c", str(files.conf)], stdout=self._log,
                                       stderr=subprocess.STDOUT)
        self.hub: Child | None = None
        self.links: list[HubLink] = []
        try:
            wait_for(lambda: port_open(self.port) or self.broker.poll() is not None, 10,
                     "mosquitto to listen", every=0.02)
            if self.broker.poll() is not None:
                raise RuntimeError("mosquitto exited: "
                                   + (root / "mosquitto.log").read_text()[-2000:])
            self.gates = []
            for i in range(gates):
                home = Home.at(root / f"kiosk-{i}")
                gid = f"gate-{i}"
                ep = add_gate(self.compound, gid, kiosk_home=home)
                assert ep.host == LOOPBACK
                self.gates.append(Gate(gid, home, ep))
            self.hub_ep = Endpoint.read(self.compound.home.hub_mqtt)
        except BaseException:
            self.close()
            raise

    # Processes

    def start_hub(self) -> None:
        self.hub = Child(_hub_child, str(self.compound.home.root)).start()

    def stop_hub(self) -> None:
        if self.hub is not None:
            self.hub.close()
            self.hub = None

    def make_links(self) -> list[HubLink]:
        links = []
        for g in self.gates:
            cache = BundleCache(g.home)
            link = HubLink(LinkConfig(g.id, g.ep.host, g.ep.port, g.ep.username, g.ep.password),
                           g.home.kiosk_db, g.home.kiosk_bundle, hub_key(g.home),
                           ClockJudge("auto"), current_bundle_version=lambda c=cache: c.version)
            links.append(link)
        self.links.extend(links)
        return links

    def stop_links(self) -> None:
        while self.links:
            with contextlib.suppress(Exception):
                self.links.pop().stop()

    def close(self) -> None:
        try:
            self.stop_links()
        finally:
            try:
                self.stop_hub()
            finally:
                if self.broker.poll() is None:
                    self.broker.terminate()
                    try:
                        self.broker.wait(10)
                    except subprocess.TimeoutExpired:
                        self.broker.kill()
                        self.broker.wait(5)
                self._log.close()
                with contextlib.suppress(Exception):
                    self.compound.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Data

    def prefill(self, n: int) -> None:
        """n exit-button events in every gate's outbox, one transaction per gate."""
        for g in self.gates:
            store = Store(g.home.kiosk_db)
            try:
                with write_transaction(store.db):
                    start = store.last_seq() + 1
                    now = time.time()
                    rows = []
                    for i in range(n):
                        eid = uuid.uuid4().hex
                        rows.append({"seq": start + i, "id": eid,
                                     "kind": EventKind.EXIT_REQUEST.value,
                                     "payload": f'{{"id":"{eid}","at":{now},'
                                                f'"kind":"exit_request","attempt_id":null}}',
                                     "created_at": now, "acked_at": None})
                    store.db["outbox"].insert_all(rows, batch_size=5000)
            finally:
                store.close()

    def payloads(self) -> dict[str, list[bytes]]:
        """The pending rows of every gate as the link would batch them (not acked)."""
        out = {}
        for g in self.gates:
            store = Store(g.home.kiosk_db)
            try:
                msgs, after = [], 0
                while events := store.pending(after, MAX_EVENTS_PER_BATCH):
                    after = events[-1].seq
                    msgs.append(dump(EventBatch(gate=g.id, sent_at=time.time(), events=events)))
                out[g.id] = msgs
            finally:
                store.close()
        return out

    def backlogs(self) -> list[sqlite3.Connection]:
        return [sqlite3.connect(g.home.kiosk_db, timeout=5) for g in self.gates]

    def hub_events(self) -> int:
        return next(self.compound.db.query("select count(*) as n from gate_events"))["n"]


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


@dataclass
class Propagation:
    per_gate: list[float]         # seconds, every gate every change
    slowest: list[float]          # seconds, the last of the 10 gates, per change
    write: list[float]            # seconds, set_building (sign, commit, write the file)
    missed: int
    delivered: list[float]        # seconds, set_building returned -> message at the gate
    handled: list[float]          # seconds, message at the gate -> verified and written


def _gate_child(home_root: str, gate_id: str, applied, ready, stop) -> None:
    """One gate's HubLink in a process of its own (a gate is a Pi of its own): reports
    (gate, bundle version, time.monotonic()) each time it has written a new bundle."""
    logging.basicConfig(level=logging.WARNING)
    home = Home.at(home_root)
    ep = Endpoint.read(home.kiosk_mqtt)
    assert ep.host == LOOPBACK
    cache = BundleCache(home)
    link = HubLink(LinkConfig(gate_id, ep.host, ep.port, ep.username, ep.password),
                   home.kiosk_db, home.kiosk_bundle, hub_key(home), ClockJudge("auto"),
                   current_bundle_version=lambda: cache.version)
    # Wrapped in the bench only (the product code is unchanged): when the bundle
    # message reached the gate's paho thread, and when the link had written it.
    original, on_message = link._bundle, link._client.on_message
    arrived: dict[bytes, float] = {}

    def received(client, userdata, msg):
        if msg.topic == topics.HUB_BUNDLE:
            arrived[bytes(msg.payload)] = time.monotonic()
        on_message(client, userdata, msg)

    def hooked(payload):
        before = link.state.bundle_version
        original(payload)
        if link.state.bundle_version != before:
            applied.put((gate_id, link.state.bundle_version,
                         arrived.pop(bytes(payload), float("nan")), time.monotonic()))
            ready.set()
    link._client.on_message = received
    link._bundle = hooked
    link.start()
    try:
        stop.wait(CHILD_MAX_S)
    finally:
        link.stop()


def propagation(root: Path, gates: int, changes: int, say) -> Propagation:
    with Env(root, gates) as env:
        env.start_hub()
        reports = MP.Queue()
        children: list[Child] = []
        try:
            for g in env.gates:
                children.append(Child(_gate_child, str(g.home.root), g.id, reports).start())
            seen: dict[int, dict[str, float]] = {}

            def collect(version: int, timeout: float) -> bool:
                deadline = time.monotonic() + timeout
                while len(seen.get(version, ())) < gates:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    try:
                        gid, v, came, at = reports.get(timeout=min(left, 0.1))
                    except queue.Empty:
                        continue
                    seen.setdefault(v, {})[gid] = (came, at)
                return True

            current = next(env.compound.db.query("select max(version) as v from bundles"))["v"]
            if not collect(current, 15):
                raise TimeoutError("the first bundle did not reach every gate")
            per_gate, slowest, writes, missed = [], [], [], 0
            delivered, handled = [], []
            status = [BuildingStatus.SEALED, BuildingStatus.NORMAL]
            for i in range(changes):
                time.sleep(random.uniform(0.05, 0.15))   # no lock-step with a poll interval
                w0 = time.monotonic()
                env.compound.set_building("1", status[i % 2], int(time.time()), actor="bench")
                t0 = time.monotonic()
                writes.append(t0 - w0)
                version = current + i + 1
                if not collect(version, 5):
                    missed += 1
                    continue
                times = [at - t0 for _, at in seen[version].values()]
                per_gate.extend(times)
                slowest.append(max(times))
                delivered.extend(came - t0 for came, _ in seen[version].values())
                handled.extend(at - came for came, at in seen[version].values())
        finally:
            for child in children:
                child.close()
            reports.close()
    result = Propagation(per_gate, slowest, writes, missed, delivered, handled)
    say(f"  delivered p50 {pct(delivered, 50) * 1000:.1f} ms, handled p50 "
        f"{pct(handled, 50) * 1000:.1f} ms p99 {pct(handled, 99) * 1000:.1f} ms")
    say(f"  per gate p50 {pct(per_gate, 50) * 1000:.1f} ms, all gates p50 "
        f"{pct(slowest, 50) * 1000:.1f} ms p99 {pct(slowest, 99) * 1000:.1f} ms, "
        f"missed {missed}")
    return result


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# Report -------------------------------------------------------------------------

def table(rows: list[Throughput], drained: Rate, drain_n: int, prop: Propagation,
          changes: int) -> str:
    out = ["| Measurement | Events | Time (s) | Events/s | Messages/s | Target | Result |",
           "|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        alone, counter, hub = (median_rate(r.alone), median_rate(r.counter),
                               median_rate(r.hub))
        share = hub.eps / counter.eps
        for name, x in (("broker: publishers alone", alone),
                        ("broker: to a counting subscriber", counter)):
            out.append(f"| {r.label}, {name} | {x.events:,} | {x.seconds:.3f} | "
                       f"{x.eps:,.0f} | {x.mps:,.0f} | | |")
        out.append(f"| **{r.label}, hub ingest (acked end to end)** | {hub.events:,} | "
                   f"{hub.seconds:.3f} | **{hub.eps:,.0f}** | {hub.mps:,.0f} | "
                   f">= 70% of broker | {share:.0%} of broker-to-subscriber "
                   f"({'met' if share >= 0.7 else 'NOT met'}) |")
    out.append(f"| **Drain a {drain_n:,}-event backlog, 1 gate** | {drained.events:,} | "
               f"**{drained.seconds:.2f}** | {drained.eps:,.0f} | {drained.mps:,.0f} | "
               f"< 15 s | {'met' if drained.seconds < 15 else 'NOT met'} |")
    p99 = pct(prop.slowest, 99) * 1000
    out.append(f"| **Bundle propagation, hub write -> applied on all 10 gates** "
               f"({changes} changes) | | | | | p99 < 20 ms | "
               f"p50 {pct(prop.slowest, 50) * 1000:.1f} ms, **p99 {p99:.1f} ms** "
               f"({'met' if p99 < 20 and not prop.missed else 'NOT met'}) |")
    out.append(f"| Bundle propagation, per gate ({len(prop.per_gate)} samples) | | | | | | "
               f"p50 {pct(prop.per_gate, 50) * 1000:.1f} ms, "
               f"p99 {pct(prop.per_gate, 99) * 1000:.1f} ms, "
               f"max {max(prop.per_gate, default=float('nan')) * 1000:.1f} ms |")
    out.append(f"| of which: hub write -> message at the gate (hub poll, broker) | | | | | | "
               f"p50 {pct(prop.delivered, 50) * 1000:.1f} ms, "
               f"p99 {pct(prop.delivered, 99) * 1000:.1f} ms |")
    out.append(f"| of which: message at the gate -> verified and written (10 gates on 2 cores) "
               f"| | | | | | p50 {pct(prop.handled, 50) * 1000:.1f} ms, "
               f"p99 {pct(prop.handled, 99) * 1000:.1f} ms |")
    out.append(f"| Bundle write at the hub (set_building: sign, commit, fsync) | | | | | | "
               f"p50 {pct(prop.write, 50) * 1000:.1f} ms, "
               f"p99 {pct(prop.write, 99) * 1000:.1f} ms |")
    if prop.missed:
        out.append(f"| Bundle changes not on all gates within 5 s | | | | | 0 | "
                   f"{prop.missed} |")
    return "\n".join(out)


def machine() -> str:
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
            f"Linux {platform.release()}, Python {platform.python_version()}, "
            f"paho-mqtt {paho.mqtt.__version__}, "
            f"{mosquitto_version()}; loopback (127.0.0.1) only")


DOC = """\
# Sync performance

Gate to hub over Mosquitto: how fast the hub ingests the gates' outboxes, how long a
large backlog takes to drain, and how quickly a new bundle reaches the gates.
Measured with `bench/sync.py`; numbers from one run on the machine below.

Command: `{command}`

Machine: {machine}. Everything ran on this one machine (broker, hub, the gates'
links); real gates are separate Raspberry Pis, so the gate side here competes with the
hub and the broker for the same 2 cores.

## Results

{table}

Throughput rows are the median of {repeats} run(s); messages carry up to 500 events.

## What the numbers say

- **Hub ingest vs the broker**: the 70% target is far out of reach, and not because
  of the transport. Mosquitto only forwards ~100 KB messages (500 events each);
  the hub parses every event (pydantic), re-encodes its payload (json) and inserts
  it into SQLite, about 20-30 us of Python per event on one thread, while the gates'
  links (here on the same 2 cores) read, build and send their batches. The hub
  keeps about 1-2% of the broker's rate. Reaching 70% would need a different
  ingest (hub/ingest.py: bulk inserts, no per-event re-encoding), not MQTT tuning.
- **Drain**: a 100,000-event backlog drains well under the 15 s target.
- **Bundle propagation**: the hub's part (noticing the new file, publishing, the
  broker's fan-out) takes a few ms; most of the rest is 10 gates verifying and
  writing (with fsync) the bundle at the same moment on 2 shared cores. With one
  gate the whole way measured 6.5 ms p50, 11 ms p99; real gates each have their own
  CPU and storage (a Raspberry Pi's SD card fsyncs slower than this disk).
  The all-gate p99 is borderline here: three full runs gave 22.2, 17.2 ms and the
  run above; the 20 ms target holds for the hub's part, not reliably for 10 gates
  sharing 2 cores.

## Changes made while measuring (kiosk/link.py, hub/sync.py)

Before them (`--quick`, 10,000 events for 1 gate): hub ingest 15,000-16,500
events/s, a 100,000-event drain 8.2-8.4 s, bundle propagation p50 50 ms and p99
102 ms on all 10 gates.

- `kiosk/link.py`: paho's callbacks now wake the link's worker (`_queue`): acks and
  bundles used to wait up to 50 ms for the worker's next poll.
- `hub/sync.py`: the writer takes whatever has queued (up to 500 messages) and
  commits it, instead of waiting up to 100 ms for more after the first message;
  a single gate, waiting for acks before it sends more, sat idle through that wait.
- `hub/sync.py`: the bundle file is checked every 5 ms (`BUNDLE_POLL_S`), not every
  50 ms: about 1% of a core when idle, measured.

## Method

- **Hub ingest**: each gate is a real `HubLink` with its own kiosk `Store`, its
  outbox pre-filled (one transaction) with exit-button events; the hub is a real
  `HubSync` in a process of its own (as `hub serve`). Timed from the links' start
  (connect included) until no gate's outbox holds an unacknowledged row: the hub has
  committed every event and its end-to-end acks have been applied by the gates.
  The hub's event count is checked after every run.
- **Broker baseline**: the same batch payloads (the link's own JSON, 500 events a
  message), published at QoS 1 by plain paho clients, one per gate with that gate's
  credentials and 16 messages in flight (what a `HubLink` allows): "publishers
  alone" is until every PUBACK with no subscriber; "to a counting subscriber" is
  until a plain subscriber (QoS 1, in its own process) has counted every message.
  The batch set is sent {rounds} times over in one run, so that the run lasts long
  enough to time. The 70% target is judged against "to a counting subscriber".
- **Drain**: one gate, {drain:,} events in its outbox, the same timing as ingest.
- **Bundle propagation**: 10 gates' links connected; {changes} building status
  changes with `Compound.set_building` (0.05-0.15 s apart, at random, so no change
  lines up with a poll interval). Each gate's `HubLink` runs in a process of its own
  (gates are separate machines; 10 links in one Python process delayed each other
  by several ms through the GIL). Timed from `set_building` returning (the new
  bundle file is in place) until each gate's `HubLink` has verified and written the
  bundle (the bench wraps `HubLink._bundle` in the gate's process to take the time;
  no product code is changed for it). "All 10 gates" is the slowest gate of each
  change; a change counts only when every gate has it.
- Mosquitto runs with the config `hub broker config` writes (`hub.broker`), on a free
  loopback port, in a temporary directory; so do the compound and the gates' homes.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs, about a minute")
    ap.add_argument("--out", type=Path, default=None,
                    help="write the report here (default: bench/out/sync.md for a full "
                         "run, nowhere for --quick); docs/performance.md quotes it")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    plan = QUICK if args.quick else Plan()
    out = None if args.no_write else (args.out or (None if args.quick else
                                      Path(__file__).resolve().parent / "out"
                                      / "sync.md"))

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-sync-") as tmp:
        root = Path(tmp)
        say(f"1 gate x {plan.one_gate:,}")
        one = throughput(root / "one", 1, plan.one_gate, plan.repeats, say)
        say(f"10 gates x {plan.ten_gates:,}")
        ten = throughput(root / "ten", 10, plan.ten_gates, plan.repeats, say)
        say(f"drain {plan.drain:,}")
        drained = drain(root / "drain", plan.drain, say)
        say(f"bundle propagation, 10 gates x {plan.changes} changes")
        prop = propagation(root / "bundle", 10, plan.changes, say)
    text = table([one, ten], drained, plan.drain, prop, plan.changes)
    print(text)
    say(f"total {time.monotonic() - started:.0f} s")
    if out is not None:
        command = ".venv/bin/python -m bench.sync" + (" --quick" if args.quick else "")
        if args.out:
            command += f" --out {shlex.quote(str(args.out))}"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(DOC.format(command=command, machine=machine(), table=text,
                                  repeats=plan.repeats, drain=plan.drain,
                                  changes=plan.changes, rounds=BROKER_ROUNDS))
        say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
