"""Parcels: the hub's parcels per second, and a drop-off scan's way to its slot.

Run: .venv/bin/python -m bench.parcels [--quick] [--out FILE] [--sizes 5000,20000] [--repeats N]
(what it measures: bench/parcels/__init__.py)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench.parcels.common import Plan, QUICK, say
from bench.parcels.end_to_end import EndToEnd, end_to_end
from bench.parcels.hub_side import HubResults, hub_side, median_run
from bench.sync.common import mosquitto_version, pct


# Report -----------------------------------------------------------------------------

def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def hub_table(res: HubResults) -> str:
    out = [("| Hub ingest, batches of 500 | Events | Time (s) | Events/s | First 500 /s | "
            "Last 500 /s |"), "|---|---:|---:|---:|---:|---:|"]
    for n, runs in sorted(res.volunteers.items()):
        r = median_run(runs)
        out.append(f"| `volunteer` events (nothing parcel-specific) | {n:,} | {r.seconds:.2f} "
                   f"| {r.rate:,.0f} | {r.batch_rate(0):,.0f} | {r.batch_rate(-1):,.0f} |")
    for n, runs in sorted(res.parcels.items()):
        r = median_run(runs)
        out.append(f"| **`parcel` events: slot, code, hold** (from an empty hub) | {n:,} | "
                   f"{r.seconds:.2f} | **{r.rate:,.0f}** | {r.batch_rate(0):,.0f} | "
                   f"{r.batch_rate(-1):,.0f} |")
    for r in res.occupancy:
        out.append(f"| **`parcel` events, 500 more onto {r.live_before:,} live parcels** "
                   f"(up to {r.live_before + r.n:,}) | {r.n:,} | {r.seconds:.2f} | "
                   f"**{r.rate:,.0f}** | | |")
    if res.timers:
        t = sorted(res.timers, key=lambda t: t.seconds)[len(res.timers) // 2]
        out.append(f"| Timer pass after every hold ended (`worker.tick`): {t.released:,} "
                   f"released, {t.messages:,} household messages queued; "
                   f"{len(t.transactions)} write transactions, **longest "
                   f"{t.longest * 1000:.0f} ms** | {t.released:,} | {t.seconds:.2f} | "
                   f"{t.released / t.seconds:,.0f} | | |")
    return "\n".join(out)


def e2e_table(e: EndToEnd) -> str:
    def row(name: str, xs: list[float], bold: bool = False) -> str:
        cells = [ms(pct(xs, p)) for p in (50, 95, 99)] + [ms(max(xs))]
        if bold:
            name, cells = f"**{name}**", [f"**{c}**" for c in cells]
        return f"| {name} | " + " | ".join(cells) + " |"
    s = e.scans
    out = [f"| Scan to slot, {len(s)} waybills one at a time (ms) | p50 | p95 | p99 | max |",
           "|---|---:|---:|---:|---:|",
           row("POST /api/courier -> slot in the hub database", [x.slotted - x.t0 for x in s],
               True),
           row("the kiosk's part: POST round trip (the screen's answer)",
               [x.posted - x.t0 for x in s]),
           row("of the whole: POST -> recorded on the gate's thread",
               [x.logged - x.t0 for x in s]),
           row("of the whole: recorded -> received by the hub (kiosk commit, link, Mosquitto)",
               [x.at_hub - x.logged for x in s]),
           row("of the whole: received by the hub -> slotted and committed (+ <= 2 ms poll)",
               [x.slotted - x.at_hub for x in s])]
    b = e.burst
    out += ["", ("| Burst, one client posting back to back | Parcels | Posted in (s) | "
                 "POST p50 / max (ms) | Kiosk parcels/s | All slotted after (s) | "
                 "End to end parcels/s | MQTT messages |"),
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            (f"| {b.n} waybills | {b.n} | {b.posted_s:.2f} | {ms(pct(b.posts, 50))} / "
             f"{ms(max(b.posts))} | {b.n / b.posted_s:,.0f} | {b.slotted_s:.2f} | "
             f"**{b.n / b.slotted_s:,.0f}** | {b.messages} |")]
    return "\n".join(out)


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
            f"Linux {platform.release()}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {mosquitto_version()}; loopback only; "
            f"load average at the start {load}")


DOC = """\
# Parcels: hub parcels per second, scan to slot

Command: `{command}` ({elapsed:.0f} s)

Machine: {machine}. The hub, the kiosk and Mosquitto all ran on this one machine.

## Hub ingest

{hub}

Events/s of the from-empty rows: the median of {repeats} run(s), each into a new hub
database. "First 500" and "last 500" are the first and the last batch of that run;
the "onto N live parcels" rows are one batch into a hub already holding N parcels on
its shelves (filled straight into the tables, as the slot rule would have placed them).
The timer pass: the run of median time after the {timer:,}-parcel runs; its longest write
transaction is the longest stretch the gates' ingest could wait behind it.

## Scan to slot, end to end

{e2e}

{warmup} waybills were keyed first and not counted (warm-up). Between two waybills a
random pause of 0-100 ms, so that nothing runs in lock-step with a poll interval.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 run of 5,000 parcels, 50 scans (about 20 s)")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parents[1] / "out" / "parcels.md",
                    help="write the report here (default: bench/out/parcels.md)")
    ap.add_argument("--sizes", default=None,
                    help="parcels ingested from an empty hub, comma-separated "
                         "(default 5000,20000)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per size")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if args.sizes:
        plan = dataclasses.replace(plan, sizes=tuple(int(x) for x in args.sizes.split(",")))
    if args.repeats:
        plan = dataclasses.replace(plan, repeats=args.repeats)
    started = time.monotonic()
    described = machine()   # the load average before this bench adds to it
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-parcels-") as tmp:
        root = Path(tmp)
        say("hub ingest")
        hub = hub_side(root / "hub", plan)
        say(f"end to end: {plan.scans} scans one at a time, then a burst of {plan.burst}")
        e2e = end_to_end(root / "e2e", plan.scans, plan.burst)
    elapsed = time.monotonic() - started
    ht, et = hub_table(hub), e2e_table(e2e)
    print(ht)
    print()
    print(et)
    say(f"total {elapsed:.0f} s")
    command = ".venv/bin/python -m bench.parcels" + (" --quick" if args.quick else "")
    if args.sizes:
        command += f" --sizes {args.sizes}"
    if args.repeats:
        command += f" --repeats {args.repeats}"
    if args.out != ap.get_default("out"):
        command += f" --out {shlex.quote(str(args.out))}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(DOC.format(command=command, elapsed=elapsed, machine=described,
                                   hub=ht, repeats=plan.repeats, timer=plan.timer, e2e=et,
                                   warmup=e2e.warmup))
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
