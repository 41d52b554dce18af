"""Deleting personal records after the retention period, and the nightly jobs' timetable.

`purge` is what the scheduled job runs; `next_run` tells the page when that will be.
The jobs run in `hub web` (a thread that wakes once a minute); docs/admin.md.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from gatehouse.db import write_transaction

DAY = 86400
log = logging.getLogger(__name__)

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


class Nightly:
    """Run `job(now)` once a day at `hhmm`: a daemon thread that checks every `tick` s."""

    def __init__(self, name: str, hhmm: str, zone: ZoneInfo, job, clock, tick: float = 30):
        self.name, self.hhmm, self.zone, self.job, self.clock = name, hhmm, zone, job, clock
        self.tick = tick
        self.due = next_run(clock(), hhmm, zone)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Nightly:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            now = self.clock()
            if now < self.due:
                continue
            try:
                self.job(now)
            except Exception:  # the next night tries again; the log says why
                log.exception("%s failed", self.name)
            self.due = next_run(now, self.hhmm, self.zone)
