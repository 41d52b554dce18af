"""The hub's one periodic worker: a job run on its own daemon thread, again and again.

    Periodic("parcel-timers", tick, every=2.0, db_path=home.hub_db, wait_first=False)
    Periodic("retention-purge", purge, every=30, due=lambda now: next_run(now, "03:30", zone))

A failed pass is logged and the next one tries again: a locked database or a receiver
that is down must not end the thread (`hub serve`'s watchdog counts threads alive).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub import schema

log = logging.getLogger(__name__)


class Periodic:
    """Run `job` every `every` s until `stop`, on a daemon thread named `name`.

    With `db_path`, the thread opens its own connection (SQLite's are per thread) and
    calls `job(db, now)`; without, `job(now)`. With `due` (the next time a job is due,
    from the time it last ran), a wake-up before that time does nothing: a nightly job
    wakes every `every` s and runs once a day. `wait_first` waits a period before the
    first pass; `join_s` is how long `stop` waits for a pass in progress.
    """

    def __init__(self, name: str, job: Callable[..., Any], every: float, *,
                 clock: Callable[[], float] = time.time, db_path: Path | None = None,
                 due: Callable[[float], float] | None = None, wait_first: bool = True,
                 join_s: float = 5.0):
        self.name, self.job, self.every, self.clock = name, job, every, clock
        self.db_path, self._due_after, self.wait_first = db_path, due, wait_first
        self.join_s = join_s
        self.due = due(clock()) if due else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        # A pass stuck past join_s is left behind (a daemon thread): it ends with the process.
        self._thread.join(self.join_s)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        db = schema.open_db(self.db_path) if self.db_path is not None else None
        try:
            if not self.wait_first:
                self._pass(db)
            while not self._stop.wait(self.every):
                self._pass(db)
        finally:
            if db is not None:
                db.close()

    def _pass(self, db) -> None:
        now = self.clock()
        if self.due is not None and now < self.due:
            return
        try:
            self.job(db, now) if db is not None else self.job(now)
        except Exception:  # the next pass tries again; the log says why
            log.exception("%s failed", self.name)
        if self._due_after is not None:
            self.due = self._due_after(now)
