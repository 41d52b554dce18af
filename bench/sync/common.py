"""The sync bench's world: a compound, its broker and its gates' links; the hub and a
counting subscriber as child processes."""
from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.db import write_transaction
from gatehouse.endpoint import Endpoint
from gatehouse.events import dump, EventBatch, EventKind, MAX_EVENTS_PER_BATCH
from gatehouse.home import Home
from gatehouse.net import close_client, nodelay
from gatehouse.processes import free_port, port_open
from hub.compound import Compound
from hub.gates import add_gate, setup_broker
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import BundleCache, hub_key
from kiosk.clock import ClockJudge
from kiosk.link import HubLink, LinkConfig
from hub.features import event_handlers


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
                   SigningKey.load(home.hub_key), event_handlers())
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
            store = AttemptLog(g.home.kiosk_db)
            try:
                with write_transaction(store.db):
                    start = store.outbox.last_seq() + 1
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
            store = AttemptLog(g.home.kiosk_db)
            try:
                msgs, after = [], 0
                while events := store.outbox.pending(after, MAX_EVENTS_PER_BATCH):
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


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
