"""The compound's day: where a local day starts and ends. The one home of it for the
kiosk's counters, the admin page, the parcels' day codes and the daily report.

A day runs from local midnight to the next local midnight in the compound's zone
(23 or 25 hours where clocks change; China's do not).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_date(at: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(at, zone).date()


def local_day(at: float, zone: ZoneInfo) -> str:
    """'2026-12-03': the local day as a key (parcel codes' day counter)."""
    return local_date(at, zone).isoformat()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[float, float]:
    """Local midnight of `day` to the next local midnight, as timestamps."""
    return (datetime.combine(day, time(0), zone).timestamp(),
            datetime.combine(day + timedelta(days=1), time(0), zone).timestamp())


def day_start(at: float, zone: ZoneInfo) -> float:
    """The local midnight that began the day of `at`."""
    return day_bounds(local_date(at, zone), zone)[0]
