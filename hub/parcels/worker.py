"""The parcel timers, run by `hub serve`: holds ending, waiting parcels, overdue, and
the pickup notices of buildings that reopened."""
from __future__ import annotations

import time
from pathlib import Path

from hub.parcels import intake, notices
from hub.periodic import Periodic


def tick(db, now: float) -> dict:
    """One pass; each step in its own short transaction."""
    return {"released": intake.release_due(db, now),
            "placed": intake.place_waiting(db, now),
            "overdue": intake.flag_overdue(db, now),
            "building_changes": notices.reopened_since_last(db)}


def parcel_timers(db_path: Path, interval_s: float = 2.0, clock=time.time) -> Periodic:
    """The timers on their own connection: a pass at once, then every `interval_s`."""
    return Periodic("parcel-timers", tick, interval_s, clock=clock, db_path=db_path,
                    wait_first=False)
