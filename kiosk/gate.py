"""The gate loop: camera frame -> code -> the mode in charge -> log -> door and buzzer.

A Gate is built from its parts (log, hardware, decoder, bundle loader, clocks) and owns
no global state. It reads frames and the scanner gun, verifies each code, and routes
scans, frames and ticks to the kiosk's modes (kiosk/modes/: entry, courier drop-off,
parcel pickup), which act through their typed context only. Everything runs on one
thread: button and door callbacks from gpiozero's threads are queued and handled in
the loop, so SQLite and the door are only touched from here. The log row is committed
before the door opens.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future

from gatehouse import codes
from gatehouse import event_payloads as payloads
from gatehouse.bundle import Bundle
from gatehouse.events import EventKind
from gatehouse.parcels import Manifest
from gatehouse.policy import Decision, Direction
from kiosk.attempt import Closed
from kiosk.attempt_log import AttemptLog
from kiosk.camera_watch import CameraWatch
from kiosk.config import KioskConfig
from kiosk.gpio import DoorAlarm, GateHardware, Pattern
from kiosk.modes.base import Mode, ModeContext, Scan, ScreenVersion
from kiosk.modes.registry import REGISTERED
from kiosk.modes.stack import ModeStack
from kiosk.scanner import Decoder, LatestFrame, SeenFilter, Symbol
from kiosk.volunteers import LOCK_SECONDS, Desk

log = logging.getLogger(__name__)
FAULT_SHOWN_S = 30.0  # a failure stays on the screen this long after the last one
PURGE_EVERY_S = 3600.0  # personal data past retention leaves the gate's SD card
BUNDLE_CHECK_S = 0.2  # a stat() per check; a new bundle applies within a second
ALARM_EVENT = {DoorAlarm.FORCED_OPEN: EventKind.DOOR_FORCED,
               DoorAlarm.HELD_OPEN: EventKind.DOOR_HELD}


class Gate:
    """One kiosk's loop: its parts, its modes (`modes`), and the context they share (`ctx`)."""

    def __init__(self, *, config: KioskConfig, store: AttemptLog, hardware: GateHardware,
                 decoder: Decoder, load_bundle: Callable[[], Bundle],
                 clock_trusted: Callable[[], bool], now: Callable[[], float] = time.time,
                 on_decision: Callable[[Decision], None] | None = None,
                 confirmed_at: Callable[[], float | None] = lambda: None,
                 load_manifest: Callable[[], Manifest | None] = lambda: None,
                 modes: Iterable[type[Mode]] = REGISTERED):
        self.config = config
        self.store = store
        self.hardware = hardware
        self.decoder = decoder
        self._load_bundle = load_bundle
        self._bundle_checked = 0.0
        self._purged = 0.0
        self.clock_trusted = clock_trusted
        self.now = now
        self.seen = SeenFilter(config.cooldown_s)
        # A gun's trigger pulled twice on one code is one scan; counted from the scan, so
        # a code shown again after the cooldown is a new attempt however often it was pulled.
        self.gun_seen = SeenFilter(config.gun_cooldown_s, extend_while_seen=False)
        bundle = load_bundle()
        self.desk = Desk()
        self.desk.update(bundle.volunteers)
        started = self.now()
        self.desk.replay(store.sign_ins(started - LOCK_SECONDS), started)
        self.last_frame = None                    # for the screen's camera preview
        self.last_frame_at: float | None = None   # wall time of it: is the camera alive?
        self.last_symbols: list = []              # and the outline of what was read
        self._screen = ScreenVersion()
        self.ctx = ModeContext(
            config=config, log=store, door=hardware.door, sounder=hardware.sounder,
            volunteers=self.desk, bundle=bundle, direction=Direction(config.direction),
            now=now, clock_trusted=clock_trusted, confirmed_at=confirmed_at,
            manifest=load_manifest, changed=self._screen.bump,
            **({"on_decision": on_decision} if on_decision else {}))
        self.modes = ModeStack(self.ctx, modes)
        self.fault: str | None = None             # the last failure of the loop, shown
        self._fault_at = time.monotonic()
        self._alarm_until: float | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._frames = None  # the running loop's frames: `call` wakes it (no frame wait)
        self.camera = CameraWatch(store)
        self._wake = threading.Event()
        self.frames = 0
        door = hardware.door
        door.on_alarm = lambda kind, at: self._inbox.put(("alarm", kind))
        door.on_exit_request = lambda: self._inbox.put(("exit", None))
        door.on_override = lambda: self._inbox.put(("override", None))
        door.on_door = lambda is_open: self._inbox.put(("door", is_open))
        try:
            store.log_event(EventKind.STARTED, self.now(), payloads.StartedPayload(
                gate=config.gate_id, relay_unlocked=door.is_unlocked,
                # "mock": the office must see a gate whose door is not wired.
                pins=hardware.kind, pins_detail=hardware.description,
                bundle_version=bundle.version,
                clock_trusted=clock_trusted(), role=config.role))
        except Exception as exc:  # a full disk must not keep the gate (and its exit) down
            log.exception("could not log the start")
            self.fault = f"{type(exc).__name__}: {exc}"[:200]

    @property
    def bundle(self) -> Bundle:
        return self.ctx.bundle

    @property
    def direction(self) -> Direction:
        return self.ctx.direction

    # Scans and frames, routed to the modes -------------------------------------

    def scan(self, text: str, now: float | None = None) -> list[Closed]:
        """One code read (camera or scanner gun): verified, then the mode that takes it
        acts; returns the entry attempts it closed."""
        now = self.now() if now is None else now
        bundle = self.ctx.bundle
        code = codes.verify(text, bundle.trust_list(), now, bundle.policy.code_skew_seconds)
        return self.modes.scan(Scan(text, code, now))

    def scanned_by_gun(self, text: str) -> None:
        """A code from the scanner gun's thread: decided on the loop's thread, like a frame's."""
        self._inbox.put(("gun", text))
        self._wake_loop()

    def handle_frame(self, image) -> list[Closed]:
        """Decode a frame and scan each code not seen within the cooldown."""
        self.frames += 1
        now = self.now()
        closed: list[Closed] = []
        symbols = self.decoder.decode(image)
        self.last_frame, self.last_symbols, self.last_frame_at = image, symbols, time.time()
        self.modes.frame(symbols, now)
        for symbol in self.seen.admit(symbols, now):
            closed += self.scan(symbol.text, now)
        return closed

    def call(self, fn: Callable[[], object], timeout: float = 5.0) -> object:
        """Run fn on the gate loop's thread (the only one that touches SQLite and pins)."""
        done: Future = Future()
        self._inbox.put(("call", (fn, done)))
        self._wake_loop()
        try:
            return done.result(timeout)
        except TimeoutError:
            done.cancel()  # the caller was told it failed: it must not happen later
            raise

    def _wake_loop(self) -> None:
        self._wake.set()
        if self._frames is not None:
            self._frames.nudge()

    def changed(self) -> None:
        """Something the screen shows changed."""
        self._screen.bump()

    @property
    def screen_version(self) -> int:
        return self._screen.value

    # Hardware events, handled on the loop's thread ---------------------------

    def _handle_inbox(self, now: float) -> None:
        while True:
            try:
                what, arg = self._inbox.get_nowait()
            except queue.Empty:
                return
            if what == "call":
                fn, done = arg
                if not done.set_running_or_notify_cancel():
                    continue
                try:
                    done.set_result(fn())
                except Exception as exc:  # handed back to the caller, who reports it
                    done.set_exception(exc)
            elif what == "gun":
                if self.gun_seen.admit([Symbol(arg, "gun", ())], now):
                    self.scan(arg, now)
            elif what == "override":
                self.modes.override(now)
            elif what == "exit":
                self.store.log_event(EventKind.EXIT_REQUEST, now)
            elif what == "alarm":
                self.store.log_event(ALARM_EVENT[arg], now)
                self.hardware.sounder.play(Pattern.ALARM)
                self._alarm_until = now + self.config.alarm_seconds
            elif what == "door" and arg is False and self._alarm_until is not None:
                self.hardware.sounder.stop()
                self._alarm_until = None

    def tick(self, now: float | None = None) -> None:
        """Time passes: the modes close and expire what is theirs; alarms end, sign-ins
        idle out, the log forgets what is past retention, a newer bundle applies."""
        now = self.now() if now is None else now
        self._handle_inbox(now)
        self.modes.tick(now)
        if self._frames is not None:
            self.camera.tick(self._frames.source, now)
        if self.desk.expire(now):
            self.changed()
        if self._alarm_until is not None and now >= self._alarm_until:
            self.hardware.sounder.stop()
            self._alarm_until = None
        if now - self._purged >= PURGE_EVERY_S:
            self._purged = now
            self.store.purge(now - self.config.retention_days * 86400)
        if now - self._bundle_checked >= BUNDLE_CHECK_S:
            self._bundle_checked = now
            self._refresh_bundle()

    def _refresh_bundle(self) -> None:
        try:
            bundle = self._load_bundle()
        except Exception:  # a bad copy on disk must not stop the gate; keep the current one
            log.exception("could not load the bundle; keeping version %s", self.bundle.version)
            return
        if bundle.version > self.bundle.version:
            log.info("bundle %s -> %s", self.bundle.version, bundle.version)
            self.ctx.bundle = bundle
            self.desk.update(bundle.volunteers)
            self.changed()

    # Running ---------------------------------------------------------------

    def run(self, frames: LatestFrame, stop: threading.Event,
            alive: Callable[[], object] = lambda: None) -> None:
        """Decode the newest frame, tick, repeat, until `stop` is set.

        `alive()` is called on every pass from this thread (systemd's watchdog is fed
        from it, so a hung or stopped loop stops feeding it).

        A failure in one pass (a full disk, a dying SD card, a camera error) must not end
        the loop: the door stays locked because nothing is admitted without a committed
        log row, but the exit button, alarms and the screen keep working, and the gate
        retries once a second. The failure is shown on the screen."""
        self._frames = frames
        while not stop.is_set():
            alive()
            try:
                frame = frames.read(timeout=0.1)
                if frame is None and self._inbox.empty():
                    # No new frame (or the source ended): keep ticking, but a tap on the
                    # screen (`call`) wakes the loop at once.
                    self._wake.wait(0.05)
                    self._wake.clear()
                if frame is not None:
                    self.handle_frame(frame.image)
                self.tick()
                if self.fault and time.monotonic() - self._fault_at > FAULT_SHOWN_S:
                    self.fault = None
                    self.changed()
            except Exception as exc:
                if self.fault is None:
                    log.exception("gate loop failed; door stays locked, retrying")
                self.fault = f"{type(exc).__name__}: {exc}"[:200]
                self._fault_at = time.monotonic()
                self.changed()
                stop.wait(1.0)

    def close(self) -> None:
        """Lock the door first, then record the stop; safe to call twice."""
        self.hardware.close()
        try:
            self.store.log_event(EventKind.STOPPED, self.now(),
                                 payloads.StoppedPayload(gate=self.config.gate_id))
        except Exception:
            log.exception("could not log the stop")
