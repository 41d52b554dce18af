"""The kiosk's modes in precedence order: the one place that routes scans, frames and
ticks to them and says which one the screen shows.

- A scan goes to the first mode that takes it (a courier's badge before anything else,
  the parcel area's desk before a person's attempt); nothing else sees it.
- Frames and ticks go to every mode: each keeps its own time (a drop-off idles out,
  a result's countdown ends, an attempt's window closes) whoever is in charge.
- The screen's `mode` is that of the first mode in charge; each mode adds its keys.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from kiosk.attempt import Closed
from kiosk.modes.base import Mode, ModeContext, Scan
from kiosk.scanner import Symbol

M = TypeVar("M", bound=Mode)


class ModeStack:
    """The modes this kiosk's role runs, built from the registered classes in order."""

    def __init__(self, ctx: ModeContext, registered: Iterable[type[Mode]]):
        self.ctx = ctx
        self.modes: tuple[Mode, ...] = tuple(cls(ctx) for cls in registered
                                             if ctx.config.role in cls.roles)

    def get(self, cls: type[M]) -> M | None:
        """The running mode of this class; None when this kiosk's role does not run it."""
        return next((m for m in self.modes if isinstance(m, cls)), None)

    def scan(self, scan: Scan) -> list[Closed]:
        for mode in self.modes:
            if mode.takes(scan):
                closed = mode.on_scan(scan)
                self.ctx.changed()
                return closed
        return []

    def frame(self, symbols: list[Symbol], now: float) -> None:
        for mode in self.modes:
            mode.on_frame(symbols, now)

    def tick(self, now: float) -> None:
        for mode in self.modes:
            mode.on_tick(now)

    def override(self, now: float) -> bool:
        return any(mode.on_override(now) for mode in self.modes)

    def screen_mode(self) -> str:
        return next((name for m in self.modes if (name := m.screen_mode())), "ready")

    def screen_state(self, now: float) -> dict:
        doc: dict = {}
        for mode in self.modes:
            doc.update(mode.screen_state(now))
        return doc
