"""Dropping the district's copies of gate events after the retention period.

Events are partitioned by the district's day, so a day past retention is one DROP
TABLE: no row-by-row delete, no bloat. The default, 28 days, is what a compound's hub
keeps its own passages and gate events (docs/admin.md, `retention_days`): the district
holds copies, never longer than their owner; 14-day tracing fits inside it. The audit
is kept whatever the age (append-only: who looked whom up stays on record); the
quarantine follows the events, and so does a removed compound's row
(district/compounds.py).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from district import compounds
from district.schema import day_partitions, ensure_partitions, set_setting, zone_of

DEFAULT_DAYS = 28


def cutoff_day(now: float, days: int, zone: ZoneInfo) -> date:
    """The oldest local day still kept: `days` days counting today."""
    return datetime.fromtimestamp(now, zone).date() - timedelta(days=days - 1)


def drop_old(conn: psycopg.Connection, days: int = DEFAULT_DAYS,
             now: float | None = None) -> list[str]:
    """Drop every day partition older than the retention; the names dropped. Also
    records `days` so the workers stop storing what would be dropped at once."""
    if days < 1:
        raise ValueError("retention is at least one day")
    zone = zone_of(conn)
    at = datetime.now(UTC).timestamp() if now is None else now
    first_kept = cutoff_day(at, days, zone)
    set_setting(conn, "retention_days", str(days))
    dropped = []
    for name, day in sorted(day_partitions(conn).items()):
        if day < first_kept:
            with conn.transaction():
                conn.execute(f"drop table {name}")
            dropped.append(name)
    with conn.transaction():
        conn.execute("delete from quarantine where at < %s",
                     [datetime.combine(first_kept, datetime.min.time(), zone)])
    compounds.forget_removed(conn, days, at)
    return dropped


def prepare_days(conn: psycopg.Connection, now: float | None = None) -> list[str]:
    """Make today's and tomorrow's partitions ahead of their events: a worker making
    one at midnight waits for the parent table's lock behind any long tracing query, and
    every insert queues behind it."""
    zone = zone_of(conn)
    today = datetime.fromtimestamp(datetime.now(UTC).timestamp() if now is None else now,
                                   zone).date()
    return ensure_partitions(conn, [today, today + timedelta(days=1)], zone)
