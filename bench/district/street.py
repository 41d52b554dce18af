"""Street-scale bench on the district's own parts (issue 16): a day of a street of 200
compounds (200 x 5,000 = 1,000,000 events) ingested by the real `district worker`
processes (1, 2, 4), then a 14-day cross-compound tracing query over it.

Run: .venv/bin/python -m bench.district.street [--quick]   (--quick: 200 x 500 events)

- PostgreSQL: district/pg_local.py's cluster in a temporary folder, durable (fsync on,
  synchronous commit), migrated by district/schema.py, zone Asia/Shanghai.
- Broker: one nats-server node from district/nats_local.py (JetStream + MQTT listener,
  a login per compound), the stream GATEHOUSE_UP and consumer `ingest` of ensure_stream.
- Compounds: simulated bridges (bench/district/publisher.py: paho, MQTT 3.1.1, QoS 1,
  clean session false, logged in as the compound) sending yesterday's events as
  FeedBatches of 500 (the hub's MAX_FEED_EVENTS) all at once, as 200 hubs catching up.
  No real compound hub with real gates takes part here.
- Time: first publish to the last event committed (max(stored_at)); every run checks
  the table holds each event once and the compounds' ranges have no gap.
- Tracing: the 13 days before are bulk-generated straight into PostgreSQL (INSERT ...
  SELECT, 1,000,000 events a day over the same 200 compounds and 20,000 people; no
  compound_ranges for them), then district/tracing.py's timeline and co-presence
  (+-15 min) over the last 14 days for 20 people, each timed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.district import deps

deps.ensure()

from bench.district.clusters import cpu_seconds  # noqa: E402
from bench.district.engines import _tree_cpu  # noqa: E402
from bench.district.feed import PEOPLE, compound_id  # noqa: E402
from bench.summary import Summary  # noqa: E402
from district import schema, tracing  # noqa: E402
from district.app_run import ENV_DSN, ENV_NATS  # noqa: E402
from district.db import connect  # noqa: E402
from district.nats_local import NatsNode, NodeConfig, ensure_stream  # noqa: E402
from district.pg_local import PgCluster  # noqa: E402
from gatehouse.processes import LOOPBACK, Process, free_port, wait_until  # noqa: E402

ZONE = "Asia/Shanghai"
PW = "pw-"
PER_BATCH = 500
PUBLISHER_PROCS = 2


def yesterday(zone: ZoneInfo) -> date:
    return datetime.now(zone).date() - timedelta(days=1)


def midnight(day: date, zone: ZoneInfo) -> float:
    return schema.day_bounds(day, zone)[0].timestamp()


def person_refs() -> list[str]:
    """The people of bench/district/feed.py's events."""
    import hashlib
    return [hashlib.blake2b(str(p).encode(), digest_size=12).hexdigest() for p in range(PEOPLE)]


class Street:
    def __init__(self, root: Path, quick: bool):
        self.root, self.quick = root, quick
        self.compounds = 200
        self.per_compound = 500 if quick else 5000
        self.total = self.compounds * self.per_compound
        self.zone = ZoneInfo(ZONE)
        self.day = yesterday(self.zone)

    def start(self) -> None:
        self.pg = PgCluster(self.root / "pg", durable=True).init()
        with connect(self.pg.dsn()) as conn:
            schema.migrate(conn)
            schema.set_setting(conn, "zone", ZONE)
        cfg = NodeConfig(name="n1", store_dir=self.root / "nats" / "js", client_port=free_port(),
                         mqtt_port=free_port(), service_password="svc-bench",
                         compounds={compound_id(i): PW + compound_id(i)
                                    for i in range(self.compounds)})
        self.node = NatsNode(cfg, self.root / "nats" / "n1.conf", self.root / "nats" / "n1.log")
        self.node.start()

    def stop(self) -> None:
        self.node.stop()
        self.pg.stop()

    def fresh_stream(self) -> None:
        import nats
        from nats.js.errors import NotFoundError

        async def go() -> None:
            nc = await nats.connect(self.node.url)
            try:
                await nc.jetstream().delete_stream("GATEHOUSE_UP")
            except NotFoundError:
                pass
            await ensure_stream(nc, 1)
            await nc.close()
        asyncio.run(go())

    def fresh_db(self, name: str) -> str:
        with connect(self.pg.dsn()) as conn:
            conn.autocommit = True
            conn.execute(f"drop database if exists {name}")
            conn.execute(f"create database {name} template district")
        return self.pg.dsn(name)

    # one day of the street ---------------------------------------------------------
    def ingest(self, workers: int) -> dict:
        self.fresh_stream()
        dsn = self.fresh_db(f"street_w{workers}")
        tag = f"w{workers}"
        env = {ENV_DSN: dsn, ENV_NATS: self.node.url, **deps.env()}
        ws = [Process([sys.executable, "-m", "district.cli", "worker", "--name", f"w{i}",
                       "--batch", "200", "--no-orders"], self.root / f"{tag}-w{i}.log", env,
                      name=f"w{i}", die_with_parent=True).start() for i in range(workers)]
        go = self.root / f"go-{tag}"
        per = self.compounds // PUBLISHER_PROCS
        pubs = []
        for k in range(PUBLISHER_PROCS):
            out = self.root / f"pub-{tag}-{k}.json"
            pubs.append((Process([
                sys.executable, "-m", "bench.district.publisher",
                "--hosts", f"{LOOPBACK}:{self.node.cfg.mqtt_port}", "--first", k * per,
                "--count", per, "--batches", self.per_compound // PER_BATCH,
                "--events", PER_BATCH, "--run", f"street-{tag}",
                "--day-start", midnight(self.day, self.zone), "--password-prefix", PW,
                "--go", go, "--out", out], self.root / f"pub-{tag}-{k}.txt", deps.env(),
                die_with_parent=True).start(), out))
        try:
            for w in ws:
                wait_until(lambda w=w: "worker ready" in w.output(), 60, 0.2, f"{w.name} ready")
            time.sleep(5)   # the bridges connected
            cpu0 = {"nats": cpu_seconds(self.node.proc.pid), "postgres": _tree_cpu(self.pg.pid()),
                    "workers": sum(cpu_seconds(w.proc.pid) for w in ws)}
            go.touch()
            t_go = time.time()
            wait_until(lambda: self.received(dsn) >= self.total or
                       not all(w.running() for w in ws), 3600, 1.0, "the day committed")
            cpu = {"nats": cpu_seconds(self.node.proc.pid) - cpu0["nats"],
                   "postgres": _tree_cpu(self.pg.pid()) - cpu0["postgres"],
                   "workers": sum(cpu_seconds(w.proc.pid) for w in ws) - cpu0["workers"]}
            for p, _ in pubs:
                p.proc.wait(600)
            results = [json.loads(out.read_text()) for _, out in pubs]
            cpu["publishers"] = sum(x["cpu_s"] for x in results)
            with connect(dsn) as conn:
                rows, distinct, last = conn.execute(
                    "select count(*), count(distinct (compound, event_id)), "
                    "extract(epoch from max(stored_at)) from events").fetchone()
                holes = conn.execute("select count(*) from (select compound, count(*) "
                                     "from compound_ranges group by 1 having count(*) > 1) g"
                                     ).fetchone()[0]
                size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        finally:
            for w in ws:
                w.stop()
            for p, _ in pubs:
                p.stop()
        t0 = min(x["t0"] for x in results)
        seconds = float(last) - t0
        return {"workers": workers, "events": rows, "distinct": distinct,
                "compounds_with_gaps": holes, "seconds": round(seconds, 1),
                "eps": round(rows / seconds), "publish_s": round(max(x["t_acked"] for x in results) - t0, 1),
                "nats_rss_mib": round(_rss(self.node.proc.pid) / 1024),
                "cpu_s": {k: round(v, 1) for k, v in cpu.items()}, "db_mib": round(size / 2**20),
                "go_to_t0_s": round(t0 - t_go, 2)}

    @staticmethod
    def received(dsn: str) -> int:
        with connect(dsn) as conn:
            return conn.execute("select coalesce(sum(last - first + 1), 0) from compound_ranges"
                                ).fetchone()[0]

    # 14 days and the tracing query ---------------------------------------------------
    def older_days(self, dsn: str, days: int = 13, first: int = 1) -> list[dict]:
        refs = person_refs()
        out = []
        with connect(dsn) as conn:
            conn.execute("create temp table bench_people (id int primary key, ref text)")
            with conn.cursor().copy("copy bench_people from stdin") as cp:
                for i, ref in enumerate(refs):
                    cp.write_row((i, ref))
            for k in range(first, first + days):
                day = self.day - timedelta(days=k)
                schema.ensure_partitions(conn, [day], self.zone)
                start = schema.day_bounds(day, self.zone)[0]
                t = time.perf_counter()
                with conn.transaction():
                    conn.execute("""
                      insert into events (compound, event_id, cseq, gate, gate_seq, kind, at,
                        direction, outcome, person_ref, building, household, name, reasons, alert)
                      select 'c' || lpad((i %% 200)::text, 5, '0'), md5(%(day)s || ':' || i),
                             i / 200 + 1, 'gate-' || (i %% 3 + 1), i / 200 + 1, 'entry',
                             %(start)s + (random() * 86399) * interval '1 second',
                             case when i %% 2 = 0 then 'in' else 'out' end, 'admit', p.ref,
                             (i %% 12 + 1)::text, (i %% 12 + 1) || '-1-**' || (i %% 10),
                             '张*', '{}', false
                      from generate_series(0, %(n)s - 1) i
                      join bench_people p on p.id = (i::bigint * 7919 + %(k)s * 104729) %% %(people)s""",
                                 {"day": day.isoformat(), "start": start, "k": k,
                                  "people": PEOPLE, "n": self.total})
                out.append({"day": day.isoformat(), "s": round(time.perf_counter() - t, 1)})
                print(f"  older day {day}: {self.total:,} events in {out[-1]['s']} s", flush=True)
            conn.execute("analyze events")
        return out

    def trace(self, dsn: str, people: int = 20) -> dict:
        import random
        refs = random.Random(16).sample(person_refs(), people)
        window = tracing.Window.last_days(time.time(), tracing.TRACE_DAYS, 28)
        times_tl, times_co, rows_tl, rows_co = [], [], [], []
        with connect(dsn) as conn:
            tracing.timeline(conn, refs[0], window)     # a warm cache, as a busy page has
            for ref in refs:
                t = time.perf_counter()
                rows_tl.append(len(tracing.timeline(conn, ref, window)))
                times_tl.append(time.perf_counter() - t)
                t = time.perf_counter()
                rows_co.append(len(tracing.co_presence(conn, ref, window, 15)))
                times_co.append(time.perf_counter() - t)
            total = conn.execute("select count(*) from events where at >= %s",
                                 [datetime.fromtimestamp(window.start, self.zone)]).fetchone()[0]
        ms = lambda xs: [round(x * 1000) for x in (statistics.median(xs), max(xs))]  # noqa: E731
        return {"events_in_window": total, "people": people,
                "timeline_ms_median_max": ms(times_tl), "timeline_rows_median": statistics.median(rows_tl),
                "copresence_ms_median_max": ms(times_co), "copresence_rows_median": statistics.median(rows_co)}


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.district.street", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 compounds x 500 events a day")
    p.add_argument("--workers", default="1,2,4",
                   help='"" for none: the 14 days of tracing data all generated in SQL')
    p.add_argument("--no-trace", action="store_true")
    p.add_argument("--out", type=Path, default=Path("bench/out"))
    a = p.parse_args()
    summary = Summary("district-street", "quick" if a.quick else "full")
    load = os.getloadavg()
    results: dict = {"runs": []}
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-street-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)   # the postgres user reaches its cluster below
        s = Street(root, a.quick)
        s.start()
        try:
            for w in (int(x) for x in a.workers.split(",") if x):
                r = s.ingest(w)
                results["runs"].append(r)
                print(json.dumps(r), flush=True)
            if not a.no_trace and results["runs"]:
                last = s.pg.dsn(f"street_w{results['runs'][-1]['workers']}")
                results["older_days"] = s.older_days(last)
                results["trace"] = s.trace(last)
                print(json.dumps(results["trace"]), flush=True)
            elif not a.no_trace:   # --workers "": all 14 days straight into PostgreSQL
                last = s.fresh_db("street_trace")
                results["older_days"] = s.older_days(last, 14, first=0)
                results["trace"] = s.trace(last)
                print(json.dumps(results["trace"]), flush=True)
        finally:
            s.stop()
    results["load"] = [round(x, 1) for x in load] + [round(x, 1) for x in os.getloadavg()]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"district-street{'-quick' if a.quick else ''}.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    figures = {f"w{r['workers']}_eps": str(r["eps"]) for r in results["runs"]}
    figures.update({f"w{r['workers']}_day_s": str(r["seconds"]) for r in results["runs"]})
    if "trace" in results:
        figures["timeline_ms_max"] = str(results["trace"]["timeline_ms_median_max"][1])
        figures["copresence_ms_max"] = str(results["trace"]["copresence_ms_median_max"][1])
    summary.print(figures)


if __name__ == "__main__":
    main()
