"""The scanner gun (or keyboard-wedge ID reader) as an input of `kiosk run`.

Many gates had a USB gun next to the camera: it reads a phone screen the camera cannot
(glare, a cracked screen) and paper codes. It is a keyboard to Linux, so it is read
through evdev and grabbed (its keystrokes never reach the console or the screen's
browser). Each code goes to `on_code` (the gate queues it for its loop, where the
gun's own 5 s same-code debounce applies). Like the camera, a missing or unplugged
gun is looked for again every few seconds, and the kiosk runs on without it.

Spec: "evdev:/dev/input/by-id/usb-<maker>-event-kbd" (stable across replugging and
reboots), "evdev:name=Honeywell" for the first input device whose name contains that
text (also virtual ones, which have no by-id link), or "evdev:auto" for the first
keyboard listed in /dev/input/by-id.
"""
from __future__ import annotations

import glob
import logging
import threading
from collections.abc import Callable
from enum import Enum

from kiosk.scanner.wedge import ScannerUnavailable, WedgeSource, import_evdev

log = logging.getLogger(__name__)
RETRY_S = 3.0
BY_ID = "/dev/input/by-id/*-event-kbd"


class GunState(Enum):
    STARTING = "starting"
    OK = "ok"
    MISSING = "missing"  # no device, no evdev, or unplugged: retrying


def device_of(spec: str) -> str:
    """'evdev:/dev/input/...' -> the path; 'evdev:auto' -> 'auto'. ValueError otherwise."""
    scheme, _, path = spec.partition(":")
    if scheme != "evdev" or not path:
        raise ValueError(f"unknown scanner {spec!r}; expected evdev:/dev/input/by-id/..., "
                         "evdev:name=TEXT or evdev:auto")
    return path


def find_keyboard(pattern: str = BY_ID) -> str:
    """The first keyboard-like input device by id; OSError when there is none."""
    found = sorted(glob.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no keyboard-like device matches {pattern}")
    return found[0]


def find_by_name(evdev, name: str) -> str:
    """The first input device whose name contains `name` (any case); OSError when none."""
    for path in sorted(evdev.list_devices()):
        device = evdev.InputDevice(path)
        try:
            if name.lower() in device.name.lower():
                return path
        finally:
            device.close()
    raise FileNotFoundError(f"no input device named like {name!r}")


def open_wedge(spec: str) -> WedgeSource:
    evdev = import_evdev()  # a missing evdev is the problem to report, not a missing device
    path = device_of(spec)
    if path == "auto":
        path = find_keyboard()
    elif path.startswith("name="):
        path = find_by_name(evdev, path.removeprefix("name="))
    return WedgeSource(path)


class ScannerGun:
    """Reads codes from a gun on its own thread until `close()`."""

    def __init__(self, spec: str, on_code: Callable[[str], None],
                 on_state: Callable[[GunState, str | None], None] | None = None,
                 opener: Callable[[str], WedgeSource] = open_wedge, retry_s: float = RETRY_S):
        device_of(spec)  # a typo fails now, not as an endless retry
        self.spec = spec
        self.state, self.problem = GunState.STARTING, None
        self._on_code, self._on_state, self._opener = on_code, on_state, opener
        self.retry_s = retry_s
        self._device: WedgeSource | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scanner-gun", daemon=True)

    def start(self) -> ScannerGun:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._device is None:
                try:
                    self._device = self._opener(self.spec)
                except (ScannerUnavailable, OSError) as error:
                    self._set(GunState.MISSING, str(error))
                    self._stop.wait(self.retry_s)
                    continue
                self._set(GunState.OK, None)
            try:
                # A short timeout so close() is noticed without closing a busy fd.
                text = self._device.read(timeout=0.5)
            except OSError as error:  # unplugged
                self._drop(f"{type(error).__name__}: {error}")
                continue
            if text is not None:
                try:
                    self._on_code(text)
                except Exception:
                    log.exception("a scanned code could not be handed to the gate")

    def _drop(self, problem: str) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except OSError:
                pass
        self._set(GunState.MISSING, problem)
        self._stop.wait(self.retry_s)

    def _set(self, state: GunState, problem: str | None) -> None:
        if (state, problem) == (self.state, self.problem):
            return
        self.state, self.problem = state, problem
        if state is GunState.MISSING:
            log.warning("scanner gun %s missing: %s; trying again every %g s", self.spec,
                        problem, self.retry_s)
        else:
            log.info("scanner gun %s %s", self.spec, state.value)
        if self._on_state is not None:
            try:
                self._on_state(state, problem)
            except Exception:
                log.exception("scanner state handler failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self._device is not None:
            self._device.close()
            self._device = None
