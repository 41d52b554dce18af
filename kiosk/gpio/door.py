"""The door: strike relay, door contact, exit button and override button of one gate."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum

from gpiozero import Device, DigitalInputDevice, Factory, OutputDevice

from kiosk.gpio.config import PinConfig

log = logging.getLogger(__name__)


class DoorAlarm(Enum):
    """What the door contact reports that nobody admitted."""

    FORCED_OPEN = "forced_open"  # opened while the strike was locked
    HELD_OPEN = "held_open"      # open longer than PinConfig.held_open_seconds


AlarmHandler = Callable[[DoorAlarm, float], None]
DoorHandler = Callable[[bool], None]
Handler = Callable[[], None]


class Door:
    """A fail-secure door strike with its contact, exit button and override button.

    The strike relay is driven locked from the first instant and on close();
    unlock() pulses it open in the background. Wiring: see PinConfig.

    Callbacks (each may be None, and may be set after construction):
    ``on_alarm(kind, at)``, ``on_door(is_open)``, ``on_exit_request()`` and
    ``on_override()``. They run on gpiozero's or a timer's thread; errors in
    them are logged, never allowed to stop the door relocking.

    *clock* gives the ``at`` timestamps of alarms (wall-clock seconds by
    default); pulse and held-open timing runs on real monotonic timers.

    >>> from gpiozero.pins.mock import MockFactory
    >>> door = Door(PinConfig(unlock_seconds=0.1), pin_factory=MockFactory())
    >>> door.unlock(); door.is_unlocked
    True
    >>> door.close(); door.is_unlocked
    False
    """

    def __init__(
        self,
        config: PinConfig | None = None,
        *,
        pin_factory: Factory | None = None,
        clock: Callable[[], float] = time.time,
        on_alarm: AlarmHandler | None = None,
        on_door: DoorHandler | None = None,
        on_exit_request: Handler | None = None,
        on_override: Handler | None = None,
    ) -> None:
        self.config = config or PinConfig()
        self.on_alarm = on_alarm
        self.on_door = on_door
        self.on_exit_request = on_exit_request
        self.on_override = on_override
        self._clock = clock
        # Re-entrant because close() may run from a SIGTERM handler on the main
        # thread while that same thread is inside unlock().
        self._lock = threading.RLock()
        self._closed = False
        self._relock_timer: threading.Timer | None = None
        self._relock_due = 0.0                  # monotonic time the pulse ends
        self._relocked_at = float("-inf")       # monotonic time of the last relock
        self._held_timer: threading.Timer | None = None
        self._devices: list[Device] = []

        cfg = self.config
        # initial_value=False with the board's polarity: an active-low board is
        # driven high (off) as the line becomes an output, so it never clicks open.
        self._relay = OutputDevice(
            cfg.relay_pin, active_high=cfg.relay_active_high,
            initial_value=False, pin_factory=pin_factory)
        self._devices.append(self._relay)
        try:
            self._contact = self._input(
                cfg.contact_pin, cfg.contact_pull_up,
                cfg.contact_bounce_seconds, pin_factory)
            # Buttons as plain inputs: gpiozero's Button adds a hold-polling
            # thread per button that a gate never uses.
            self._exit_button = self._input(
                cfg.exit_button_pin, True, cfg.button_bounce_seconds, pin_factory)
            self._override_button = self._input(
                cfg.override_button_pin, True, cfg.button_bounce_seconds, pin_factory)
        except BaseException:
            self.close()
            raise

        if self._contact is not None:
            self._contact.when_activated = self._contact_closed
            self._contact.when_deactivated = self._contact_opened
            if not self._contact.is_active:
                # Propped open at start: no forced-open, but time how long it stays open.
                self._start_held_timer()
        if self._exit_button is not None:
            self._exit_button.when_activated = self._exit_pressed
        if self._override_button is not None:
            self._override_button.when_activated = self._override_pressed

    def _input(
        self, pin: int | None, pull_up: bool, bounce: float | None, pin_factory: Factory | None,
    ) -> DigitalInputDevice | None:
        if pin is None:
            return None
        device = DigitalInputDevice(pin, pull_up=pull_up, bounce_time=bounce, pin_factory=pin_factory)
        self._devices.append(device)
        return device

    @property
    def is_unlocked(self) -> bool:
        """True while the strike relay is energised."""
        with self._lock:
            return not self._closed and self._relay.is_active

    @property
    def is_open(self) -> bool | None:
        """True while the door contact reads open; None for a gate without a contact."""
        if self._contact is None or self._closed:
            return None
        return not self._contact.is_active

    def unlock(self, seconds: float | None = None) -> None:
        """Release the strike for *seconds* (default: config) without blocking.

        Unlocking again while unlocked extends the pulse to the later of the two
        ends; it never relocks early and never clicks the relay in between.
        """
        seconds = self.config.unlock_seconds if seconds is None else seconds
        if seconds <= 0:
            raise ValueError(f"seconds must be positive, not {seconds}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the door is closed")
            due = time.monotonic() + seconds
            if self._relay.is_active and due <= self._relock_due:
                return
            self._relock_due = due
            self._cancel_relock_timer()
            self._relay.on()
            timer = threading.Timer(seconds, self._relock_when_due, args=(due,))
            timer.daemon = True
            self._relock_timer = timer
            timer.start()

    def lock(self) -> None:
        """Lock the strike now, ending any pulse."""
        with self._lock:
            if self._closed:
                return
            self._cancel_relock_timer()
            self._relock()

    def close(self) -> None:
        """Lock the strike and release every pin; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._cancel_relock_timer()
            self._cancel_held_timer()
            try:
                self._relock()
            finally:
                self._closed = True
                for device in reversed(self._devices):
                    try:
                        device.close()
                    except Exception:
                        log.exception("closing %r failed", device)

    def __enter__(self) -> Door:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _relock(self) -> None:
        if self._relay.is_active:
            self._relocked_at = time.monotonic()
        self._relay.off()

    def _relock_when_due(self, due: float) -> None:
        with self._lock:
            # A timer that fired while unlock() extended the pulse is stale.
            if self._closed or due != self._relock_due:
                return
            self._relock_timer = None
            self._relock()

    def _cancel_relock_timer(self) -> None:
        if self._relock_timer is not None:
            self._relock_timer.cancel()
            self._relock_timer = None

    def _start_held_timer(self) -> None:
        self._cancel_held_timer()
        timer = threading.Timer(self.config.held_open_seconds, self._held_open)
        timer.daemon = True
        self._held_timer = timer
        timer.start()

    def _cancel_held_timer(self) -> None:
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None

    def _held_open(self) -> None:
        with self._lock:
            # A timer that fired while the door was shutting is stale.
            if self._closed or threading.current_thread() is not self._held_timer:
                return
            self._held_timer = None
        self._call(self.on_alarm, DoorAlarm.HELD_OPEN, self._clock())

    def _contact_opened(self) -> None:
        with self._lock:
            if self._closed:
                return
            at = self._clock()
            admitted = (
                self._relay.is_active
                or (self._exit_button is not None and self._exit_button.is_active)
                or time.monotonic() - self._relocked_at <= self.config.relock_grace_seconds
            )
            self._start_held_timer()
        self._call(self.on_door, True)
        if not admitted:
            self._call(self.on_alarm, DoorAlarm.FORCED_OPEN, at)

    def _contact_closed(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._cancel_held_timer()
        self._call(self.on_door, False)

    def _exit_pressed(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.unlock()
        self._call(self.on_exit_request)

    def _override_pressed(self) -> None:
        if not self._closed:
            self._call(self.on_override)

    @staticmethod
    def _call(handler: Callable | None, *args) -> None:
        if handler is None:
            return
        try:
            handler(*args)
        except Exception:
            log.exception("door callback %r failed", handler)
