"""Bundle propagation: hub write to applied on every gate."""
from __future__ import annotations

import logging
import queue
import random
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sync.common import CHILD_MAX_S, LOOPBACK, MP, Child, Env, pct
from gatehouse import topics
from gatehouse.endpoint import Endpoint
from gatehouse.home import Home
from gatehouse.policy import BuildingStatus
from kiosk.bundles import BundleCache, hub_key
from kiosk.clock import ClockJudge
from kiosk.link import HubLink, LinkConfig


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
