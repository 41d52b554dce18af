"""`district run`: the whole district on one machine, from its home.

The steps, in order: the home's PostgreSQL cluster (unless the config names a dsn),
the migrations and the district's settings, one nats-server node, the stream, N worker
processes (`district worker`; one of them also sends the orders), the hourly retention
(and the next day's partition made ahead).
A worker that dies is started again; if the broker node or the cluster dies, `district
run` stops with status 1 (systemd's Restart= starts it all again). Under systemd
(district/systemd/gatehouse-district.service, Type=notify) it says READY=1 once
everything runs and WATCHDOG=1 from its loop. SIGTERM stops it all in reverse order.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

from district import aio, retention, schema
from district.db import connect
from district.home import DistrictHome
from district.nats_local import NatsNode, NodeConfig, connect_options, ensure_stream
from district.pg_local import PgCluster
from gatehouse.processes import Process
from gatehouse.sdnotify import Notifier
from gatehouse.stop_signals import stop_on_signals

log = logging.getLogger(__name__)
ENV_DSN = "GATEHOUSE_DISTRICT_DSN"
ENV_NATS = "GATEHOUSE_DISTRICT_NATS"
RETENTION_EVERY_S = 3600
PARTS_CHECK_S = 10


def node_config(home: DistrictHome) -> NodeConfig:
    """The single node of a one-machine district: workers on loopback, bridges on the
    configured host."""
    cfg, secret = home.config(), home.secrets()
    return NodeConfig(name=f"{cfg.id}-1", store_dir=home.nats / "js",
                      client_port=cfg.nats_port, mqtt_port=cfg.mqtt_port,
                      mqtt_host=cfg.host, service_password=secret["service"],
                      compounds=dict(secret["compounds"]),
                      pid_file=home.nats / "nats.pid", mqtt_tls=cfg.mqtt_tls)


def prepare_database(home: DistrictHome, dsn: str) -> None:
    """Migrations, and what the workers read from the database (zone, retention, id)."""
    cfg = home.config()
    with connect(dsn) as conn:
        schema.migrate(conn)
        schema.set_setting(conn, "zone", cfg.zone)
        schema.set_setting(conn, "district_id", cfg.id)
        schema.set_setting(conn, "retention_days", str(cfg.retention_days))


def worker_process(dsn: str, urls: list[str], log_path: Path, name: str) -> Process:
    # The broker password goes by environment, not argv (ps shows argv to everyone).
    return Process([sys.executable, "-m", "district.cli", "worker", "--name", name],
                   log_path, {ENV_DSN: dsn, ENV_NATS: ",".join(urls)}, name=name,
                   die_with_parent=True)


class District:
    """The running parts of `district run`."""

    def __init__(self, home: DistrictHome, workers: int | None = None):
        self.home, self.cfg = home, home.config()
        self.n_workers = workers if workers is not None else self.cfg.workers
        self.cluster: PgCluster | None = None
        self.node: NatsNode | None = None
        self.workers: list[Process] = []
        self._stop = threading.Event()

    def start(self) -> None:
        logs = self.home.root / "logs"
        logs.mkdir(exist_ok=True)
        if not self.cfg.dsn:
            self.cluster = PgCluster(self.home.pg).init().start()
        self.dsn = self.home.dsn()
        prepare_database(self.home, self.dsn)
        self.node = NatsNode(node_config(self.home), self.home.nats / "nats.conf",
                             logs / "nats.log").start()
        self.urls = self.home.nats_urls()
        aio.run(_stream(self.urls))
        for i in range(self.n_workers):
            self.workers.append(worker_process(self.dsn, self.urls,
                                               logs / f"worker-{i + 1}.log",
                                               f"worker-{i + 1}").start())

    def serve(self, notifier: Notifier | None = None) -> str | None:
        """Until stop(): keep the workers running; every hour make today's and
        tomorrow's partitions and drop the days past the retention. Returns what died
        (the broker node or the cluster), None when stopped."""
        next_retention = next_check = 0.0
        while not self._stop.wait(1.0):
            if time.monotonic() >= next_check:   # pg_ctl status is a process: not each second
                next_check = time.monotonic() + PARTS_CHECK_S
                dead = self.dead_part()
                if dead:
                    return dead
            if notifier is not None:
                notifier.watchdog()
            for i, w in enumerate(self.workers):
                if not w.running():
                    log.warning("%s exited (%s); starting it again", w.name, w.stop())
                    self.workers[i] = w.start()
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + RETENTION_EVERY_S
                try:
                    with connect(self.dsn) as conn:
                        retention.prepare_days(conn)
                        dropped = retention.drop_old(conn, self.cfg.retention_days)
                    if dropped:
                        log.info("retention dropped %s", ", ".join(dropped))
                except Exception:  # noqa: BLE001 (tried again in an hour)
                    log.exception("retention failed")

        return None

    def dead_part(self) -> str | None:
        if self.node is not None and not self.node.running():
            return "nats-server"
        if self.cluster is not None and not self.cluster.running():
            return "postgresql"
        return None

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        if self.node is not None:
            self.node.stop()
        if self.cluster is not None:
            self.cluster.stop()


async def _stream(urls: list[str]) -> None:
    import nats
    nc = await nats.connect(**connect_options(urls))
    try:
        await ensure_stream(nc, replicas=1)
    finally:
        await nc.close()


def run(home: DistrictHome, workers: int | None = None) -> int:
    """The composition root of `district run`: start, serve until SIGTERM, stop."""
    district = District(home, workers)
    notifier = Notifier.from_environment()
    stop_on_signals(district.stop)
    try:
        try:
            district.start()
        except subprocess.CalledProcessError as exc:   # initdb, pg_ctl
            print(f"district: {' '.join(map(str, exc.cmd))} failed:\n{exc.stderr}",
                  file=sys.stderr, flush=True)
            return 1
        except (OSError, RuntimeError) as exc:   # a directory postgres cannot reach, a port
            print(f"district: {exc}", file=sys.stderr, flush=True)
            return 1
        ready = (f"district {district.cfg.id} ready: mqtt {district.cfg.host}:"
                 f"{district.cfg.mqtt_port}, {district.n_workers} workers")
        print(ready, flush=True)
        notifier.ready(status=ready)
        dead = district.serve(notifier)
        notifier.stopping()
    finally:
        district.close()
    if dead:
        print(f"district stopped: {dead} exited", file=sys.stderr, flush=True)
        return 1
    print("district stopped", flush=True)
    return 0
