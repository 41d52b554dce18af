"""Engine comparison for the district (issue 16): NATS JetStream against RabbitMQ
(MQTT plugin + a quorum queue), both from Debian packages, on loopback, on the work the
district sees. Run: .venv/bin/python -m bench.district.engines [--quick] [--engine nats]

Per engine, a single node and a cluster of three: simulated compound bridges (paho,
MQTT 3.1.1, QoS 1, clean session false; bench/district/publisher.py) publish FeedBatch
messages of 50 events for 200 compounds as one burst; 1, 2 and 4 competing workers
(bench/district/consumer.py) insert them into PostgreSQL (the contract's `events`
shape, ON CONFLICT DO NOTHING) and ack after the commit. Measured: events/s end to end
(first publish to last commit), the publishers' rate to the last PUBACK, publish-to-
commit latency per batch (p50/p99; in a burst this is queueing), each broker node's
RSS (now and peak) and the CPU of brokers, workers, publishers and PostgreSQL. Then a
paced run (below capacity) for latency, and the fault: kill -9 of the stream's /
queue's leader node of three during a burst, counted at the table: events lost though
PUBACKed (the broker's promise), then the bridges send again what the district has not
committed (as the hub re-sends unacked feed) and the table is counted again.
Ends with a markdown table and a GATEHOUSE-BENCH line.
"""
from __future__ import annotations

import argparse
import calendar
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.district import deps

deps.ensure()

import psycopg  # noqa: E402

from bench.district.clusters import NatsCluster, RabbitCluster, cpu_seconds  # noqa: E402
from bench.district.feed import check_shape  # noqa: E402
from bench.district.pg import LocalPg  # noqa: E402
from bench.summary import Summary  # noqa: E402
from gatehouse.processes import Process, wait_until  # noqa: E402

PUBLISHER_PROCS = 2
DAY = "2026-12-03"
DAY_START = float(calendar.timegm(time.strptime(DAY, "%Y-%m-%d")))


@dataclass
class Run:
    engine: str
    nodes: int
    workers: int
    kind: str                 # burst | paced | kill
    events: int = 0
    committed: int = 0
    publish_s: float = 0.0    # first publish -> last PUBACK
    e2e_s: float = 0.0        # first publish -> last commit
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    rss_mib: list = field(default_factory=list)
    peak_mib: list = field(default_factory=list)
    cpu: dict = field(default_factory=dict)
    faults: dict = field(default_factory=dict)

    @property
    def eps(self) -> float:
        return self.committed / self.e2e_s if self.e2e_s else 0.0

    @property
    def publish_eps(self) -> float:
        return self.events / self.publish_s if self.publish_s else 0.0


def _tree_cpu(pid: int | None) -> float:
    """CPU of a process, its waited-for children and its live children (PostgreSQL's
    backends are children of the postmaster)."""
    if not pid:
        return 0.0
    total = 0.0
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += cpu_seconds(int(child))
    except OSError:
        pass
    return total


class Bench:
    def __init__(self, root: Path, pg: LocalPg, quick: bool):
        self.root, self.pg, self.quick = root, pg, quick
        self.compounds = 50 if quick else 200
        self.batches = 4 if quick else 10
        self.per_batch = 50
        self.seq = 0

    # processes -----------------------------------------------------------------
    def workers(self, cluster, n: int) -> list[Process]:
        urls = ",".join(cluster.urls())
        return [Process([sys.executable, "-m", "bench.district.consumer", cluster.engine,
                         "--urls", urls, "--dsn", self.pg.dsn, "--name", f"w{i + 1}",
                         "--index", str(i)], self.root / f"worker-{cluster.engine}-{i}.txt",
                        env=deps.env(), die_with_parent=True).start() for i in range(n)]

    def publishers(self, cluster, run: str, go: Path, tag: str, *, interval: float = 0.0,
                   batches: int | None = None, resend: Path | None = None) -> list[tuple[Process, Path]]:
        hosts = ",".join(f"{h}:{p}" for h, p in cluster.mqtt())
        per = self.compounds // PUBLISHER_PROCS
        out = []
        for k in range(PUBLISHER_PROCS):
            res = self.root / f"pub-{tag}-{k}.json"
            args = [sys.executable, "-m", "bench.district.publisher", "--hosts", hosts,
                    "--first", k * per, "--count", per, "--batches", batches or self.batches,
                    "--events", self.per_batch, "--interval", interval, "--run", run,
                    "--day-start", DAY_START, "--go", go, "--out", res]
            if resend:
                args += ["--resend", resend]
            out.append((Process(args, self.root / f"pub-{tag}-{k}.txt", env=deps.env(),
                                die_with_parent=True).start(), res))
        return out

    # PostgreSQL ----------------------------------------------------------------
    def q(self, sql: str, *args):
        with psycopg.connect(self.pg.dsn, autocommit=True) as c:
            cur = c.execute(sql, args or None)
            return cur.fetchall() if cur.description else []

    def count(self) -> int:
        return self.q("SELECT count(*) FROM events")[0][0]

    def wait_count(self, want: int, quiet: float = 8.0, limit: float = 600) -> int:
        """Until the table holds `want` events, or nothing new came for `quiet` s."""
        last, since, t_end = -1, time.monotonic(), time.monotonic() + limit
        while time.monotonic() < t_end:
            n = self.count()
            if n >= want:
                return n
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > quiet:
                return n
            time.sleep(0.2)
        return last

    # one run -------------------------------------------------------------------
    def run(self, cluster, workers: int, kind: str, kill_after: float = 0.0,
            interval: float = 0.0, batches: int | None = None) -> Run:
        self.q("TRUNCATE events, deliveries")
        self.seq += 1
        tag = f"{cluster.engine}{cluster.size}-{kind}-{workers}-{self.seq}"
        run_id = f"{tag}-{time.time_ns()}"
        batches = batches or self.batches
        r = Run(cluster.engine, cluster.size, workers, kind,
                events=self.compounds * batches * self.per_batch)
        go = self.root / f"go-{tag}"
        ws = self.workers(cluster, workers)
        pubs = self.publishers(cluster, run_id, go, tag, interval=interval, batches=batches)
        try:
            return self._measure(cluster, r, ws, pubs, go, run_id, tag, kill_after)
        finally:
            for w in ws:
                w.stop()
            for p, _ in pubs:
                p.stop()

    def _measure(self, cluster, r: Run, ws, pubs, go: Path, run_id: str, tag: str,
                 kill_after: float) -> Run:
        time.sleep(3.0 if self.quick else 6.0)   # 200 bridges connected, workers subscribed
        cpu0 = self._cpu(cluster, ws, pubs)
        go.touch()
        t_go = time.time()
        killed = None
        if kill_after:
            time.sleep(kill_after)
            killed = cluster.leader()
            cpu0[killed.name] -= cpu_seconds(killed.pid())   # its CPU until the kill
            cluster.kill9(killed)
            r.faults["killed"] = killed.name
            r.faults["killed_at_s"] = round(time.time() - t_go, 2)
            r.faults["committed_at_kill"] = self.count()
        for p, _ in pubs:
            p.proc.wait(900)
        results = [json.loads(res.read_text()) for _, res in pubs]
        committed = self.wait_count(r.events, quiet=40 if killed else 8)
        cpu1 = self._cpu(cluster, ws, pubs)
        r.rss_mib = [round(n.rss_kib() / 1024, 1) for n in cluster.nodes]
        r.peak_mib = [round(n.hwm_kib() / 1024, 1) for n in cluster.nodes]
        r.cpu = {k: round(cpu1[k] - cpu0.get(k, 0.0), 1) for k in cpu1}
        r.cpu["publishers"] = round(sum(x["cpu_s"] for x in results), 1)   # their own, at exit
        t0 = min(x["t0"] for x in results)
        r.publish_s = max(x["t_acked"] for x in results) - t0
        last = self.q("SELECT max(committed_at) FROM deliveries")[0][0] or t0
        r.e2e_s, r.committed = last - t0, committed
        lat = sorted(x[0] for x in self.q("SELECT committed_at - sent_at FROM deliveries"))
        if lat:
            r.p50_ms = statistics.median(lat) * 1000
            r.p99_ms = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        if kill_after:
            r.faults.update(self.faults(cluster, results, run_id, tag, r))
        return r

    def _cpu(self, cluster, ws, pubs) -> dict[str, float]:
        out = {n.name: cpu_seconds(n.pid()) for n in cluster.nodes}
        out["workers"] = sum(cpu_seconds(w.proc.pid) for w in ws if w.proc)
        out["postgres"] = _tree_cpu(self.pg.pid())
        return out

    # the fault's counts ----------------------------------------------------------
    def drained(self, cluster, limit: float = 300) -> None:
        """Until the engine holds nothing for the workers (a consumer may stall while its
        leader is elected again: the table alone would count that as lost)."""
        def empty() -> bool:
            try:
                return cluster.backlog() == 0
            except Exception:  # noqa: BLE001 (a node or leader still missing)
                return False
        wait_until(empty, limit, 1.0, "the engine's backlog empty")
        self.wait_count(10**12, quiet=5)

    def faults(self, cluster, results: list[dict], run_id: str, tag: str, r: Run) -> dict:
        self.drained(cluster)
        have: dict[str, set[int]] = {}
        for cid, cseq in self.q("SELECT compound, cseq FROM events"):
            have.setdefault(cid, set()).add(cseq)
        per = self.per_batch
        acked_lost = unacked_missing = 0
        resend: dict[str, list[int]] = {}
        for res in results:
            for cid, v in res["compounds"].items():
                got, acked = have.get(cid, set()), set(v["acked"])
                for first in v["sent"]:
                    missing = sum(1 for s in range(first, first + per) if s not in got)
                    if missing:
                        resend.setdefault(cid, []).append(first)
                        if first in acked:
                            acked_lost += missing
                        else:
                            unacked_missing += missing
        f = {"pubacked_but_lost": acked_lost, "unacked_not_stored": unacked_missing,
             "reconnects": sum(x["reconnects"] for x in results),
             "pubacked": sum(len(v["acked"]) for x in results for v in x["compounds"].values()) * per}
        # As the hub: what the district has not committed (its FeedAck) is sent again,
        # round after round (the hub's resend timer), at most 5 rounds here.
        f["resent_events"] = 0
        for k in range(5):
            if not resend:
                break
            path = self.root / f"resend-{tag}-{k}.json"
            path.write_text(json.dumps(resend))
            go = self.root / f"go-resend-{tag}-{k}"
            pubs = self.publishers(cluster, run_id, go, f"{tag}-resend{k}", resend=path)
            try:
                time.sleep(3)
                go.touch()
                for p, _ in pubs:
                    p.proc.wait(900)
            finally:
                for p, _ in pubs:
                    p.stop()
            f["resent_events"] += sum(len(v) for v in resend.values()) * per
            self.wait_count(r.events, quiet=20)
            self.drained(cluster)
            f["resend_rounds"] = k + 1
            have = {}
            for cid, cseq in self.q("SELECT compound, cseq FROM events"):
                have.setdefault(cid, set()).add(cseq)
            resend = {cid: [first for first in firsts
                            if any(s not in have.get(cid, ()) for s in range(first, first + per))]
                      for cid, firsts in resend.items()}
            resend = {cid: v for cid, v in resend.items() if v}
        rows, distinct = self.q("SELECT count(*), count(DISTINCT (compound, cseq)) FROM events")[0]
        f["lost_end_to_end"] = r.events - distinct
        f["doubled_in_table"] = rows - distinct
        f["redelivered_absorbed"] = self.q(
            "SELECT coalesce(sum(received - inserted), 0) FROM deliveries")[0][0]
        return f


def start(kind: str, root: Path, size: int):
    c = (NatsCluster if kind == "nats" else RabbitCluster)(root, size)
    t = time.monotonic()
    c.start()
    c.started_s = time.monotonic() - t
    c.idle_mib = [round(n.rss_kib() / 1024, 1) for n in c.nodes]
    return c


def table(runs: list[Run]) -> str:
    out = ["| Engine | Nodes | Workers | Run | Events | Publish to last PUBACK (events/s) | "
           "End to end (events/s) | p50 / p99 publish->commit (ms) | Broker RSS now / peak (MiB per node) | "
           "CPU s: brokers / workers / publishers / PostgreSQL |",
           "|---|---:|---:|---|---:|---:|---:|---|---|---|"]
    for r in runs:
        brokers = sum(v for k, v in r.cpu.items() if k not in ("workers", "publishers", "postgres"))
        out.append(
            f"| {r.engine} | {r.nodes} | {r.workers} | {r.kind} | {r.committed:,}/{r.events:,} | "
            f"{r.publish_eps:,.0f} | **{r.eps:,.0f}** | {r.p50_ms:,.0f} / {r.p99_ms:,.0f} | "
            f"{' '.join(f'{a:.0f}' for a in r.rss_mib)} / {' '.join(f'{a:.0f}' for a in r.peak_mib)} | "
            f"{brokers:.1f} / {r.cpu.get('workers', 0):.1f} / {r.cpu.get('publishers', 0):.1f} / "
            f"{r.cpu.get('postgres', 0):.1f} |")
    return "\n".join(out)


def fault_table(runs: list[Run]) -> str:
    out = ["| Engine | Killed (-9) | At (s) / committed then | PUBACKed | PUBACKed but lost | "
           "Not PUBACKed, not stored | Sent again (rounds) | Lost end to end | Doubled in table | "
           "Redelivered (absorbed by the key) | Bridge reconnects |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        f = r.faults
        if not f:
            continue
        out.append(f"| {r.engine} x{r.nodes}, {r.workers} workers | {f['killed']} (leader) | "
                   f"{f['killed_at_s']} / {f['committed_at_kill']:,} | {f['pubacked']:,} | "
                   f"**{f['pubacked_but_lost']:,}** | {f['unacked_not_stored']:,} | "
                   f"{f.get('resent_events', 0):,} ({f.get('resend_rounds', 0)}) | **{f['lost_end_to_end']:,}** | "
                   f"{f['doubled_in_table']:,} | {f['redelivered_absorbed']:,} | {f['reconnects']} |")
    return "\n".join(out)


def bench_engine(kind: str, b: Bench, root: Path, runs: list[Run], log,
                 kill_only: bool = False) -> None:
    for size in ((3,) if kill_only else (1, 3)):
        c = start(kind, root, size)
        log(f"{kind} x{size} started in {c.started_s:.1f} s, idle RSS {c.idle_mib} MiB")
        try:
            for w in ((2,) if kill_only else (1, 2, 4)):
                runs.append(b.run(c, w, "burst"))
                log(table(runs[-1:]).splitlines()[-1])
            if size == 3:
                # paced: each compound one batch every 5 s (2,000 events/s for 200 compounds)
                if not kill_only:
                    runs.append(b.run(c, 2, "paced", interval=5.0, batches=3 if b.quick else 4))
                    log(table(runs[-1:]).splitlines()[-1])
                burst2 = next(r for r in runs if r.engine == kind and r.nodes == 3
                              and r.workers == 2 and r.kind == "burst")
                kill_after = max(0.5, 0.4 * burst2.publish_s)
                runs.append(b.run(c, 2, "kill", kill_after=kill_after))
                log(table(runs[-1:]).splitlines()[-1])
                log(fault_table(runs[-1:]).splitlines()[-1])
        finally:
            c.stop()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.district.engines", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="50 compounds x 4 batches (10,000 events a run)")
    p.add_argument("--engine", choices=("nats", "rabbitmq"), action="append")
    p.add_argument("--kill-only", action="store_true",
                   help="three nodes only: one burst with 2 workers, then the kill -9 run")
    p.add_argument("--out", type=Path, default=Path("bench/out"))
    a = p.parse_args()
    summary = Summary("district-engines", "quick" if a.quick else "full")
    engines = a.engine or ["nats", "rabbitmq"]
    runs: list[Run] = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-district-") as tmp:
        root = Path(tmp)
        check_shape("shape", DAY_START)
        pg = LocalPg(root).start()
        try:
            pg.schema([DAY])
            b = Bench(root, pg, a.quick)
            for kind in engines:
                bench_engine(kind, b, root, runs, lambda s: print(s, flush=True), a.kill_only)
        finally:
            pg.stop()
    text = (f"load at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, at end "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}\n\n" + table(runs) + "\n\n"
            + fault_table(runs))
    print(text)
    a.out.mkdir(parents=True, exist_ok=True)
    name = "district-engines" + ("-kill" if a.kill_only else "") + "-" + "-".join(engines)
    (a.out / f"{name}.md").write_text(text + "\n")
    (a.out / f"{name}.json").write_text(json.dumps([asdict(r) for r in runs]))
    best = {}
    for r in runs:
        if r.kind == "burst":
            k = f"{r.engine}{r.nodes}_w{r.workers}_eps"
            best[k] = round(r.eps)
        if r.kind == "kill":
            best[f"{r.engine}_kill_lost_acked"] = r.faults.get("pubacked_but_lost")
            best[f"{r.engine}_kill_lost_e2e"] = r.faults.get("lost_end_to_end")
    best["versions"] = versions()
    summary.print({k: str(v) for k, v in best.items()})


def versions() -> str:
    import subprocess
    nats = subprocess.run(["nats-server", "--version"], capture_output=True, text=True).stdout.strip()
    rabbit = sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*"))
    return f"{nats}, rabbitmq {rabbit[-1].name.split('-')[-1] if rabbit else '?'}"


if __name__ == "__main__":
    main()
