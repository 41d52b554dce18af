"""A real PostgreSQL for the district page's and tracing's tests: one cluster per session,
a fresh database per test (copied from a template holding the schema)."""
from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from gatehouse.processes import free_port, wait_until

ZONE = "Asia/Shanghai"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo(ZONE)).timestamp()
_SCHEMA = """
create table events (
  compound text not null, event_id text not null, cseq bigint, gate text, gate_seq bigint,
  kind text, at timestamptz not null, direction text, outcome text, person_ref text,
  building text, household text, name text, reasons text[], alert boolean default false,
  stored_at timestamptz default now(), primary key (compound, event_id, at)
) partition by range (at);
create index on events (person_ref, at);
create index on events (compound, gate, at);
create index on events (compound, building, at);
create table compounds (id text primary key, name text, first_seen timestamptz,
  last_event_at timestamptz, last_status_at timestamptz, status jsonb);
create table compound_ranges (compound text, first bigint, last bigint);
create table orders (id bigserial primary key, compound text not null, seq bigint not null,
  kind text not null, building text, policy jsonb, signed text, issued_at timestamptz,
  issued_by text, note text, status text not null default 'pending', reported_at timestamptz,
  report jsonb, unique (compound, seq));
create table users (username text primary key, pw_hash text not null, role text not null,
  created_at timestamptz not null default now(), disabled_at timestamptz,
  session_gen integer not null default 1);
create table audit (id bigserial primary key, at timestamptz not null default now(),
  actor text, role text, action text not null, target text, detail jsonb, ip text);
"""


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1].parent


def _as_postgres() -> tuple[list[str], int | None]:
    """PostgreSQL refuses to run as root: run it as the `postgres` system user then."""
    if os.getuid() != 0:
        return [], None
    return ["runuser", "-u", "postgres", "--"], pwd.getpwnam("postgres").pw_uid


@pytest.fixture(scope="session")
def pg():
    """A private PostgreSQL cluster on a Unix socket; yields its base DSN."""
    bindir, (prefix, uid) = _pg_bin(), _as_postgres()
    base = Path(tempfile.mkdtemp(prefix="district-pg-"))
    if uid is not None:
        os.chown(base, uid, -1)
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(base / "data"), "-A", "trust",
                    "-U", "district", "-E", "UTF8", "--no-sync"], check=True,
                   capture_output=True)
    port = free_port()
    log = open(base / "pg.log", "wb")
    proc = subprocess.Popen([*prefix, str(bindir / "postgres"), "-D", str(base / "data"),
                             "-k", str(base), "-p", str(port), "-c", "listen_addresses=",
                             "-c", "fsync=off", "-c", "synchronous_commit=off",
                             "-c", "full_page_writes=off"], stdout=log, stderr=log)
    dsn = f"host={base} port={port} user=district"

    def up() -> bool:
        try:
            psycopg.connect(dsn + " dbname=postgres").close()
            return True
        except psycopg.OperationalError:
            return False
    try:
        wait_until(up, 30)
        with psycopg.connect(dsn + " dbname=postgres", autocommit=True) as c:
            c.execute("create database district_tpl")
        with psycopg.connect(dsn + " dbname=district_tpl", autocommit=True) as c:
            c.execute(_SCHEMA)
            day = date.fromtimestamp(NOW) - timedelta(days=45)
            for _ in range(50):
                _partition(c, day)
                day += timedelta(days=1)
        yield dsn
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def _partition(conn, day: date) -> None:
    start = datetime.combine(day, datetime.min.time(), ZoneInfo(ZONE))
    conn.execute(f"create table events_{day:%Y%m%d} partition of events for values from "
                 f"('{start.isoformat()}') to ('{(start + timedelta(days=1)).isoformat()}')")


_numbers = itertools.count()


@pytest.fixture
def district_dsn(pg):
    """A fresh database with the schema; its DSN."""
    name = f"d{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(pg + " dbname=postgres", autocommit=True) as c:
        c.execute(f"create database {name} template district_tpl")
    yield f"{pg} dbname={name}"
    with psycopg.connect(pg + " dbname=postgres", autocommit=True) as c:
        c.execute(f"drop database {name} with (force)")


@pytest.fixture
def district_db(district_dsn):
    with psycopg.connect(district_dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn
