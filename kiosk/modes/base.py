"""What a kiosk mode is: one small interface, and the typed context it may touch.

The gate loop (kiosk/gate.py) owns the camera, the scanner gun, the buttons and the
clock; it verifies each code read and hands the modes three things only: scans, frames
and ticks (kiosk/modes/stack.py routes them). A mode decides what a scan means at this
kiosk (a person's attempt, a courier's parcel, a resident's pickup), logs it, and only
then opens the door or sounds the buzzer, through its context and nothing else.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from gatehouse.bundle import Bundle
from gatehouse.parcels import Manifest
from gatehouse.policy import Decision, Direction
from kiosk.attempt import Closed, Code
from kiosk.attempt_log import AttemptLog
from kiosk.config import KioskConfig
from kiosk.gpio import Door, Sounder
from kiosk.scanner import Symbol
from kiosk.volunteers import Desk


@dataclass(frozen=True)
class Scan:
    """One code read by the camera or the scanner gun, verified against the bundle."""

    text: str      # as read: a waybill or a pickup code is only text
    code: Code     # the verified code, or why it is not one (CodeError)
    now: float


class ScreenVersion:
    """Counts changes to what the screen shows; the screen's stream sends on a change."""

    def __init__(self) -> None:
        self.value = 0

    def bump(self) -> None:
        self.value += 1


@dataclass
class ModeContext:
    """Everything a mode may use. Built once by the gate; the gate swaps in a newer
    bundle here when the hub sends one."""

    config: KioskConfig
    log: AttemptLog            # attempts and events, each with its outbox row, committed
    door: Door                 # unlock only after the row that allows it is committed
    sounder: Sounder
    volunteers: Desk           # who is signed in on the screen
    bundle: Bundle             # policy, trust list, roster, revocations: the current one
    direction: Direction       # the lane (in or out); a volunteer may switch it at a gate
    now: Callable[[], float]
    clock_trusted: Callable[[], bool]
    confirmed_at: Callable[[], float | None]   # when the hub last said the bundle is current
    manifest: Callable[[], Manifest | None]     # the parcel area's shelf list, as saved
    changed: Callable[[], None]                 # something the screen shows changed
    on_decision: Callable[[Decision], None] = field(default=lambda d: None)


class Mode(ABC):
    """One way the kiosk handles what it is shown.

    A new mode is a subclass in its own file under kiosk/modes/ and one line in
    `REGISTERED` (kiosk/modes/registry.py), whose order is the precedence: a scan goes to
    the first mode that `takes` it. Everything runs on the gate loop's thread."""

    name: ClassVar[str]
    roles: ClassVar[tuple[str, ...]] = ("gate", "parcels")   # the kiosks that run it

    def __init__(self, ctx: ModeContext):
        self.ctx = ctx

    @abstractmethod
    def takes(self, scan: Scan) -> bool:
        """Whether this scan is this mode's (decided without changing anything)."""

    @abstractmethod
    def on_scan(self, scan: Scan) -> list[Closed]:
        """Act on a scan this mode took; returns the entry attempts it closed (if any)."""

    def on_frame(self, symbols: list[Symbol], now: float) -> None:
        """A camera frame was decoded (every frame, codes in view or not)."""

    def on_tick(self, now: float) -> None:
        """Time passes: end what is idle, clear what has been shown long enough."""

    def on_override(self, now: float) -> bool:
        """The physical override button; True when this mode acted on it."""
        return False

    def screen_mode(self) -> str | None:
        """The screen's `mode` while this mode is in charge of it, else None."""
        return None

    def screen_state(self, now: float) -> dict:
        """This mode's keys of the screen's JSON (kiosk/screen.py)."""
        return {}
