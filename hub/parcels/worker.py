"""The parcel timers, run by `hub serve`: holds ending, waiting parcels, overdue."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from hub import schema
from hub.parcels import intake

log = logging.getLogger(__name__)


def tick(db, now: float) -> dict:
    """One pass; each step in its own short transaction."""
    return {"released": intake.release_due(db, now),
            "placed": intake.place_waiting(db, now),
            "overdue": intake.flag_overdue(db, now)}


class ParcelWorker:
    def __init__(self, db_path: Path, interval_s: float = 2.0, clock=time.time):
        self.db_path, self.interval_s, self.clock = db_path, interval_s, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parcel-timers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        db = schema.open_db(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    tick(db, self.clock())
                except Exception:  # a locked database, a full disk: try again next pass
                    log.exception("parcel timers failed; trying again")
                self._stop.wait(self.interval_s)
        finally:
            db.close()
