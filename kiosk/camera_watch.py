"""The camera's outages as events for the office (`camera`: lost, back).

A gate whose camera is unplugged keeps its door locked and its screen says so
(kiosk/scanner/reconnect.py), but only the volunteer standing there sees it; the office
learns that the gate reads no codes, and for how long, from these events (the hub
raises a `camera_lost` alert and closes it when the camera is back). Watched from the
gate loop's tick, so the log is written on the loop's own thread.
"""
from __future__ import annotations

from gatehouse.event_payloads import CameraPayload
from gatehouse.events import EventKind
from kiosk.attempt_log import AttemptLog
from kiosk.scanner.reconnect import CameraState


class CameraWatch:
    def __init__(self, log: AttemptLog) -> None:
        self._log = log
        # When the camera was seen lost, by the gate's clock. From the log across a
        # restart: a camera mended while the gate was off is logged back at its first
        # frame, or the office's alert would stay open for ever.
        last = log.last_event(EventKind.CAMERA)
        self._lost_at: float | None = last[0] if last and last[1].get("state") == "lost" \
            else None

    def tick(self, source: object, now: float) -> None:
        """Look at the camera `source` (a ReconnectingSource; another kind of source
        cannot be lost) and log what changed since the last tick."""
        state = getattr(source, "state", None)
        # The state changes only once its event is written: a write that fails (a
        # busy or full log) is tried again at the next tick, not lost.
        if state is CameraState.MISSING and self._lost_at is None:
            problem = (getattr(source, "problem", None) or "")[:200]
            self._log.log_event(EventKind.CAMERA, now,
                                CameraPayload(state="lost", problem=problem))
            self._lost_at = now
        elif state is CameraState.OK and self._lost_at is not None:
            lost_for = min(max(0.0, now - self._lost_at), 10**9)   # its model's bound
            self._log.log_event(EventKind.CAMERA, now,
                                CameraPayload(state="back", lost_for_s=round(lost_for, 1)))
            self._lost_at = None
