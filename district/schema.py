"""The district's PostgreSQL schema: numbered migrations, and the day partitions of
`events` created as days arrive (docs/district.md).

A migration is applied once, recorded in `schema_migrations`; one never changes after
release, a new one goes at the end. Columns may be added, never renamed (the page,
district/web, reads them).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

# Any fixed number: two processes migrating at once take turns on it.
_MIGRATE_LOCK = 0x6A7E_0016
_PARTITION_LOCK = 0x6A7E_0017

M001_BASE = """
create table district_settings (key text primary key, value text not null);

create table events (
  compound text not null, event_id text not null, cseq bigint not null,
  gate text not null, gate_seq bigint not null, kind text not null,
  at timestamptz not null, direction text, outcome text, person_ref text,
  building text, household text, name text, reasons text[] not null default '{}',
  alert boolean not null default false, stored_at timestamptz not null default now(),
  -- an event's `at` never changes: this is idempotency by (compound, event id)
  primary key (compound, event_id, at)
) partition by range (at);
create index events_person_at on events (person_ref, at);
create index events_gate_at on events (compound, gate, at);
create index events_building_at on events (compound, building, at);

create table compounds (
  id text primary key, name text not null default '',
  first_seen timestamptz not null default now(), last_event_at timestamptz,
  last_status_at timestamptz, status jsonb);
create view compounds_live as
  select c.*, coalesce(c.last_status_at > now() - interval '90 seconds', false) as online
  from compounds c;

-- Received cseq ranges [first, last] per compound; the holes between are gaps.
create table compound_ranges (
  compound text not null, first bigint not null, last bigint not null,
  primary key (compound, first), check (first <= last));

create table orders (
  id bigserial primary key, compound text not null, seq bigint not null,
  kind text not null, building text, policy jsonb, signed text not null,
  issued_at timestamptz not null, issued_by text not null, note text not null default '',
  status text not null default 'pending'
    check (status in ('pending', 'applied', 'stale', 'refused')),
  reported_at timestamptz, report jsonb, template text,
  unique (compound, seq));
create index orders_pending on orders (compound, seq) where status = 'pending';

create table quarantine (
  id bigserial primary key, at timestamptz not null default now(), subject text not null,
  compound text, reason text not null, payload bytea not null);

create table users (
  username text primary key, pw_hash text not null,
  role text not null check (role in ('admin', 'observer')),
  created_at timestamptz not null default now(), disabled_at timestamptz,
  session_gen integer not null default 1);

create table audit (
  id bigserial primary key, at timestamptz not null default now(), actor text,
  role text, action text not null, target text, detail jsonb, ip text);
-- Append-only: who looked whom up stays on record, whatever retention drops.
create function audit_append_only() returns trigger language plpgsql as $$
begin raise exception 'audit is append-only'; end $$;
create trigger audit_no_change before update or delete on audit
  for each statement execute function audit_append_only();
"""

# A compound's budget of quarantine (district/ingest.py): what it sent over it is
# counted here, not kept.
M002_QUARANTINE_BUDGET = """
create index quarantine_compound_at on quarantine (compound, at);
create table quarantine_overflow (
  compound text not null, day date not null, messages bigint not null default 0,
  bytes bigint not null default 0, primary key (compound, day));
"""

# A compound removed from the district (`district compound remove`): its login gone,
# its copies kept until the retention drops them (district/compounds.py).
M003_COMPOUND_REMOVED = """
alter table compounds add column removed_at timestamptz;
"""

# A removed compound's pending orders are withdrawn: kept pending, a compound added
# again (or one the retention forgot, sending again) got weeks-old orders (review R3,
# session 6). A compound that had applied one before it left may still report it.
M004_ORDER_WITHDRAWN = """
alter table orders drop constraint orders_status_check;
alter table orders add constraint orders_status_check
  check (status in ('pending', 'applied', 'stale', 'refused', 'withdrawn'));
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "base", M001_BASE),
    (2, "quarantine_budget", M002_QUARANTINE_BUDGET),
    (3, "compound_removed", M003_COMPOUND_REMOVED),
    (4, "order_withdrawn", M004_ORDER_WITHDRAWN),
]


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply the migrations not yet applied, in order; the numbers applied."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [_MIGRATE_LOCK])
        conn.execute("create table if not exists schema_migrations (version integer "
                     "primary key, name text not null, applied_at timestamptz not null "
                     "default now())")
        done = {r[0] for r in conn.execute("select version from schema_migrations")}
        for number, name, sql in MIGRATIONS:
            if number in done:
                continue
            conn.execute(sql)
            conn.execute("insert into schema_migrations (version, name) values (%s, %s)",
                         [number, name])
            applied.append(number)
    return applied


def set_setting(conn: psycopg.Connection, key: str, value: str) -> None:
    with conn.transaction():
        conn.execute("insert into district_settings values (%s, %s) on conflict (key) "
                     "do update set value = excluded.value", [key, value])


def setting(conn: psycopg.Connection, key: str, default: str) -> str:
    row = conn.execute("select value from district_settings where key = %s",
                       [key]).fetchone()
    return row[0] if row else default


def zone_of(conn: psycopg.Connection) -> ZoneInfo:
    """The district's time zone: its days are the partitions' days."""
    return ZoneInfo(setting(conn, "zone", "Asia/Shanghai"))


def partition_name(day: date) -> str:
    return f"events_{day:%Y%m%d}"


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours on a DST change)."""
    start = datetime.combine(day, time(), zone)
    return start, datetime.combine(day + timedelta(days=1), time(), zone)


def local_day(at: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(at, zone).date()


def ensure_partitions(conn: psycopg.Connection, days: Iterable[date],
                      zone: ZoneInfo) -> list[str]:
    """Create the day partitions missing among `days`; the names created.

    In a transaction of its own, before the batch's: creating a partition locks the
    parent table, which must not wait inside a transaction that already inserted
    (two workers would deadlock). Workers racing for the same new day take turns on an
    advisory lock; the second finds it made."""
    wanted = {partition_name(d): d for d in days}
    if not wanted:
        return []
    have = {r[0] for r in conn.execute(
        "select relname from pg_class where relname = any(%s)", [list(wanted)])}
    missing = sorted(set(wanted) - have)
    if not missing:
        return []
    made: list[str] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [_PARTITION_LOCK])
        have = {r[0] for r in conn.execute(
            "select relname from pg_class where relname = any(%s)", [missing])}
        for name in missing:
            if name in have:
                continue
            start, end = day_bounds(wanted[name], zone)
            conn.execute(f"create table {name} partition of events for values "
                         f"from ('{start.isoformat()}') to ('{end.isoformat()}')")
            made.append(name)
    return made


def day_partitions(conn: psycopg.Connection) -> dict[str, date]:
    """Every day partition of `events`, by name."""
    rows = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "join pg_class p on p.oid = i.inhparent where p.relname = 'events'").fetchall()
    out = {}
    for (name,) in rows:
        try:
            out[name] = datetime.strptime(name, "events_%Y%m%d").date()
        except ValueError:
            continue   # a partition someone made by hand: never ours to drop
    return out
