"""Deleting personal records after the retention period, and the nightly jobs' timetable.

`purge` is what the scheduled job runs; `next_run` tells the page when that will be.
The jobs run on a `hub.periodic.Periodic` that wakes every 30 s; docs/admin.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.envconfig import read_env
from hub.periodic import Periodic

DAY = 86400
# The nightly jobs' settings share the admin page's variables (GATEHOUSE_WEB_*,
# docs/admin.md): one environment file serves `hub serve`, which runs the jobs, and
# `hub web`, which shows when they run next.
ENV_PREFIX = "GATEHOUSE_WEB_"


@dataclass(frozen=True)
class NightlyConfig:
    """When the nightly jobs run and what they keep. The one home of these defaults."""

    retention_days: int = 28
    purge_at: str = "03:30"              # the nightly purge, compound time
    reset_at: str = "03:00"              # the nightly presence reset
    reset_after_hours: float = 12.0      # present longer than this: reset at night

    @classmethod
    def from_env(cls, env=None) -> NightlyConfig:
        return cls(**read_env(cls, ENV_PREFIX, env))

# table -> the column holding the time that ages it
PERSONAL_TABLES = {
    "passages": "at",
    "gate_events": "at",
    "alerts": "at",
    "conflicts": "at",
    "quarantine": "at",
    "presence_resets": "at",
    "visitors": "until_at",
    "login_attempts": "at",
    "notifications": "created_at",      # phone numbers and households
    "notification_events": "at",
}
FINAL_PARCELS = "('picked_up', 'delivered', 'returned', 'voided')"


def purge(db: sqlite_utils.Database, now: float, days: int) -> dict[str, int]:
    """Delete personal records older than `days`, in one transaction; counts per table."""
    cutoff = now - days * DAY
    counts = {}
    with write_transaction(db):
        for table, column in PERSONAL_TABLES.items():
            cur = db.execute(f"delete from [{table}] where [{column}] < ?", [cutoff])
            counts[table] = cur.rowcount
        # Parcels name a household: a finished one goes with its history and its group
        # purchase line; one still on a shelf stays, however old.
        old = f"select id from parcels where state in {FINAL_PARCELS} and changed_at < ?"
        db.execute(f"delete from parcel_events where parcel in ({old})", [cutoff])
        db.execute(f"delete from groupbuy_orders where parcel in ({old})", [cutoff])
        counts["parcels"] = db.execute(
            f"delete from parcels where state in {FINAL_PARCELS} and changed_at < ?",
            [cutoff]).rowcount
    return counts


def next_run(now: float, hhmm: str, zone: ZoneInfo) -> float:
    """The next time of day `hhmm` after `now`, in the compound's zone."""
    local = datetime.fromtimestamp(now, zone)
    run = datetime.combine(local.date(), time.fromisoformat(hhmm), zone)
    if run <= local:
        run = datetime.combine(local.date() + timedelta(days=1), time.fromisoformat(hhmm), zone)
    return run.timestamp()


def nightly(name: str, hhmm: str, zone: ZoneInfo, job, clock, tick: float = 30) -> Periodic:
    """Run `job(now)` once a day at `hhmm`: a worker that checks every `tick` s."""
    return Periodic(name, job, tick, clock=clock, due=lambda now: next_run(now, hhmm, zone))
