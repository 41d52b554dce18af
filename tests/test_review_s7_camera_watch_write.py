"""H7-3: kiosk/camera_watch.py changes its state before the log write; a write that
fails once (the log busy past its 5 s busy_timeout, a full or dying SD card) loses that
event for good: a lost `back` leaves the office's camera_lost alert open for ever (a
lost `lost` hides the outage from the office).

`tick` sets `self._lost_at = None` and then calls `log_event`; when that raises, the
gate loop shows the fault and ticks again (kiosk/gate.py run), but the watch already
believes the camera is back and never writes it. Nothing else logs it: the next start
reads the log's last camera event, which is still `lost`... and logs `back` only then.

Failed at 25c1833, before the fix (the outbox ends with `lost` while the camera works). Takes
~6 s (one real busy_timeout).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gatehouse.events import EventKind
from kiosk.attempt_log import AttemptLog
from kiosk.camera_watch import CameraWatch
from kiosk.scanner.reconnect import CameraState
from tests.test_camera_watch import missing_camera, plug_in

T0 = 1_800_000_000.0


def camera_states(log: AttemptLog) -> list[str]:
    return [e.payload["state"] for e in log.outbox.pending(0, 100)
            if e.kind is EventKind.CAMERA]


def test_a_back_whose_write_failed_once_is_never_written(tmp_path: Path):
    log = AttemptLog(tmp_path / "kiosk.db")
    source, folder, reader = missing_camera(tmp_path)
    watch = CameraWatch(log)
    watch.tick(source, T0)                                   # lost: written
    plug_in(tmp_path, folder, reader)
    assert source.state is CameraState.OK
    # Another writer of the same log holds it (the hub link's worker has its own
    # connection to this file) for longer than the busy_timeout, once.
    other = sqlite3.connect(tmp_path / "kiosk.db")
    other.execute("begin immediate")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        watch.tick(source, T0 + 60)                          # the gate loop shows a fault
    other.rollback()
    other.close()
    for t in range(61, 120):                                 # and ticks on, camera fine
        watch.tick(source, T0 + t)
    source.close()
    assert camera_states(log) == ["lost", "back"]
