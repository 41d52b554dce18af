"""A camera that may be missing or unplugged: the gate keeps running and keeps trying.

A kiosk that exits when its camera is missing is restarted by systemd, fails again,
and the volunteer sees no screen at all (issue 12). Instead the camera is one input
that comes and goes: while it is missing the screen says so, the door stays locked
(nothing is decided without codes), the scanner gun and the buttons keep working, and
the camera is opened again every few seconds until it delivers.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import Enum
from urllib.parse import urlsplit

from kiosk.scanner.camera import Frame, FrameSource, open_source

log = logging.getLogger(__name__)
RETRY_S = 3.0
SCHEMES = ("file", "video", "v4l2", "picamera2")


class CameraState(Enum):
    STARTING = "starting"
    OK = "ok"
    MISSING = "missing"  # could not be opened, or stopped delivering: retrying
    ENDED = "ended"      # a file or video camera played to its end (tests, demos)


StateHandler = Callable[[CameraState, "str | None"], None]


def check_spec(spec: str) -> None:
    """Raise ValueError for a camera spec no retry can fix (a typo in the config)."""
    scheme = urlsplit(spec).scheme or spec
    if scheme not in SCHEMES:
        raise ValueError(f"unknown camera {spec!r}; expected file:, video:, v4l2: or picamera2")


class ReconnectingSource:
    """Opens `spec` with `opener`, and again every `retry_s` while it cannot or stops.

    `read()` blocks until a frame arrives (or `interrupt()`/`close()`), so the
    LatestFrame reading it simply waits through an outage. `on_state(state, problem)`
    is called from the reading thread whenever the state or the problem changes.
    """

    def __init__(self, spec: str, opener: Callable[[str], FrameSource] = open_source,
                 retry_s: float = RETRY_S, on_state: StateHandler | None = None):
        check_spec(spec)
        self.spec = spec
        self.retry_s = retry_s
        self.state = CameraState.STARTING
        self.problem: str | None = None
        self._opener = opener
        self._on_state = on_state
        # A file camera that plays to its end has ended; a device that "ends" was unplugged.
        self._may_end = (urlsplit(spec).scheme or spec) in ("file", "video")
        self._source: FrameSource | None = None
        self._stop = threading.Event()

    def read(self) -> Frame | None:
        """The next frame; None only once stopped or when a file camera has ended."""
        while not self._stop.is_set():
            if self._source is None and not self._open():
                self._stop.wait(self.retry_s)
                continue
            try:
                frame = self._source.read()
            except Exception as error:  # a driver error mid-stream: treat as unplugged
                self._lose(f"{type(error).__name__}: {error}")
                continue
            if frame is None:
                if self._may_end:
                    self._set(CameraState.ENDED, None)
                    return None
                self._lose("the camera stopped delivering frames")
                continue
            self._set(CameraState.OK, None)
            return frame
        return None

    def _open(self) -> bool:
        try:
            self._source = self._opener(self.spec)
            return True
        except Exception as error:  # missing device, no driver, unloadable library
            self._set(CameraState.MISSING, f"{type(error).__name__}: {error}")
            return False

    def _lose(self, problem: str) -> None:
        self._close_source()
        self._set(CameraState.MISSING, problem)
        self._stop.wait(self.retry_s)

    def _set(self, state: CameraState, problem: str | None) -> None:
        if (state, problem) == (self.state, self.problem):
            return
        self.state, self.problem = state, problem
        if state is CameraState.MISSING:
            log.warning("camera %s missing: %s; trying again every %g s", self.spec,
                        problem, self.retry_s)
        else:
            log.info("camera %s %s", self.spec, state.value)
        if self._on_state is not None:
            try:
                self._on_state(state, problem)
            except Exception:
                log.exception("camera state handler failed")

    def _close_source(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            try:
                source.close()
            except Exception:
                log.exception("closing camera %s failed", self.spec)

    def interrupt(self) -> None:
        """Stop waiting and reading: `read()` returns None from now on."""
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self._close_source()

