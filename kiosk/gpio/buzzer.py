"""The gate's sounder: a buzzer that plays named beep patterns in the background."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import Enum

from gpiozero import Buzzer, Factory

from kiosk.gpio.config import PinConfig


@dataclass(frozen=True)
class Beeps:
    """A beep pattern: *count* beeps of *on* seconds, each followed by *off* seconds of silence.

    A *count* of None repeats until stopped.
    """

    on: float
    off: float
    count: int | None

    @property
    def seconds(self) -> float | None:
        """Return how long the pattern lasts, or None if it repeats until stopped."""
        return None if self.count is None else self.count * (self.on + self.off)


class Pattern(Enum):
    """The patterns a volunteer learns by ear; they differ in count and length of beeps."""

    ADMIT = Beeps(on=0.1, off=0.0, count=1)     # one short beep
    REFER = Beeps(on=0.25, off=0.15, count=2)   # two medium beeps: call a volunteer
    REFUSE = Beeps(on=0.6, off=0.2, count=3)    # three long beeps
    ALARM = Beeps(on=0.1, off=0.1, count=None)  # rapid beeps until stopped


class Sounder:
    """A buzzer that plays one Pattern at a time without blocking the caller.

    Wiring: see PinConfig (buzzer positive leg to ``buzzer_pin``, negative to ground).

    >>> from gpiozero.pins.mock import MockFactory
    >>> sounder = Sounder(PinConfig(), pin_factory=MockFactory())
    >>> sounder.play(Pattern.ALARM); sounder.is_playing
    True
    >>> sounder.close(); sounder.is_playing
    False
    """

    def __init__(self, config: PinConfig | None = None, *, pin_factory: Factory | None = None) -> None:
        config = config or PinConfig()
        self._buzzer = Buzzer(
            config.buzzer_pin, active_high=config.buzzer_active_high,
            initial_value=False, pin_factory=pin_factory)
        self._lock = threading.RLock()
        self._closed = False
        self._ends_at = 0.0  # monotonic time the pattern playing ends

    @property
    def is_playing(self) -> bool:
        """True while a pattern is still sounding (ALARM until stopped)."""
        with self._lock:
            return not self._closed and time.monotonic() < self._ends_at

    def play(self, pattern: Pattern | Beeps) -> None:
        """Start *pattern* in the background, replacing whatever is playing."""
        beeps = pattern.value if isinstance(pattern, Pattern) else pattern
        with self._lock:
            if self._closed:
                return
            seconds = beeps.seconds
            self._ends_at = float("inf") if seconds is None else time.monotonic() + seconds
            self._buzzer.blink(on_time=beeps.on, off_time=beeps.off, n=beeps.count, background=True)

    def stop(self) -> None:
        """Silence the buzzer now."""
        with self._lock:
            if self._closed:
                return
            self._ends_at = 0.0
            self._buzzer.off()

    def close(self) -> None:
        """Silence the buzzer and release its pin; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            try:
                self._buzzer.off()
            finally:
                self._closed = True
                self._ends_at = 0.0
                self._buzzer.close()

    def __enter__(self) -> Sounder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
