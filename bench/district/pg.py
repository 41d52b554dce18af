"""A throwaway PostgreSQL cluster for the bench (Debian's binaries), in a temporary
folder, on a free loopback port; as the `postgres` system user when run as root
(PostgreSQL refuses root). District/pg_local.py is the service's own; this one stays
small so the engine comparison does not depend on it."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from gatehouse.processes import LOOPBACK, free_port, wait_until

# The contract's `events` shape (docs/district.md), one partition per day, plus one
# bench-only table: what each worker received and committed, written in the SAME
# transaction as the events (so a killed worker's counts agree with its commits).
SCHEMA = """
CREATE TABLE events (
  compound text NOT NULL, event_id text NOT NULL, cseq bigint NOT NULL, gate text,
  gate_seq bigint, kind text, at timestamptz NOT NULL, direction text, outcome text,
  person_ref text, building text, household text, name text, reasons text[],
  alert boolean, stored_at timestamptz DEFAULT now(),
  PRIMARY KEY (compound, event_id, at)) PARTITION BY RANGE (at);
CREATE INDEX ON events (person_ref, at);
CREATE INDEX ON events (compound, gate, at);
CREATE INDEX ON events (compound, building, at);
CREATE TABLE deliveries (
  worker text, compound text, first_cseq bigint, received int, inserted int,
  sent_at double precision, committed_at double precision DEFAULT extract(epoch FROM clock_timestamp()));
"""


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class LocalPg:
    def __init__(self, root: Path):
        self.dir = Path(root) / "pg"
        self.port = free_port()
        self.dsn = f"host={LOCALHOST} port={self.port} user=postgres dbname=postgres"

    def start(self) -> LocalPg:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:   # the postgres user must reach its folder (tmp dirs are 0700)
            self.dir.parent.chmod(0o755)
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(_as_postgres([_bin("initdb"), "-D", str(self.dir), "-U", "postgres",
                                     "-A", "trust", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True)
        with open(self.dir / "postgresql.conf", "a") as f:
            # As a small district machine would run it; fsync stays ON (commits are real).
            f.write(f"listen_addresses = '{LOOPBACK}'\nport = {self.port}\n"
                    f"unix_socket_directories = ''\nshared_buffers = 128MB\n"
                    f"max_connections = 50\nsynchronous_commit = on\n")
        self.up()
        return self

    def up(self) -> None:
        subprocess.run(_as_postgres([_bin("pg_ctl"), "-D", str(self.dir), "-l",
                                     str(self.dir / "log.txt"), "-w", "start"]),
                       check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_postgres([_bin("pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop"]),
                       capture_output=True)

    def pid(self) -> int:
        return int((self.dir / "postmaster.pid").read_text().split()[0])

    def schema(self, days: list[str]) -> None:
        """`days`: YYYY-MM-DD (UTC) partitions to create."""
        import psycopg
        with psycopg.connect(self.dsn, autocommit=True) as c:
            c.execute(SCHEMA)
            for d in days:
                c.execute(f"CREATE TABLE events_{d.replace('-', '')} PARTITION OF events "
                          f"FOR VALUES FROM ('{d} 00:00+00') TO (('{d}'::date + 1)::timestamp AT TIME ZONE 'UTC')")

    def wait_ready(self) -> None:
        import psycopg

        def ok() -> bool:
            try:
                psycopg.connect(self.dsn, connect_timeout=1).close()
                return True
            except psycopg.OperationalError:
                return False
        wait_until(ok, 30, 0.2, "PostgreSQL")


LOCALHOST = LOOPBACK
