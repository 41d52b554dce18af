"""Sync throughput and latency over a real Mosquitto, on loopback (127.0.0.1) only.

Run: .venv/bin/python -m bench.sync [--quick] [--out FILE] [--no-write]
(what it measures and how: bench/sync/__init__.py)
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt

from bench.sync.common import BROKER_ROUNDS, QUICK, Plan, mosquitto_version, pct
from bench.sync.propagation import Propagation, propagation
from bench.sync.throughput import Rate, Throughput, drain, median_rate, throughput


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
Measured with `bench/sync/`; numbers from one run on the machine below.

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
                                      Path(__file__).resolve().parents[1] / "out"
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
