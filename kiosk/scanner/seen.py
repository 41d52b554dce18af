"""The repeat filter: a code held in view is one scan, not one per frame."""

from __future__ import annotations

from typing import Iterable

from kiosk.scanner.decoders import Symbol

CAMERA_COOLDOWN_S = 2.5
GUN_COOLDOWN_S = 5.0


class SeenFilter:
    """Lets a code text through once, then again only after `cooldown_s` out of view.

    While a code keeps being read, each sighting restarts its cooldown (so holding a phone
    to the camera for ten seconds is still one scan); set `extend_while_seen=False` to count
    the cooldown from the admitted scan instead. Time is passed in, so it is pure.

    >>> seen = SeenFilter(cooldown_s=2.5)
    >>> [s.text for s in seen.admit([Symbol("A", "qr", ())], now=0.0)]
    ['A']
    >>> seen.admit([Symbol("A", "qr", ())], now=1.0)
    []
    """

    def __init__(self, cooldown_s: float = CAMERA_COOLDOWN_S, extend_while_seen: bool = True) -> None:
        self.cooldown_s = cooldown_s
        self.extend_while_seen = extend_while_seen
        self._last: dict[str, float] = {}

    def admit(self, symbols: Iterable[Symbol], now: float) -> list[Symbol]:
        """Return the symbols that count as new scans at time `now` (seconds)."""
        fresh: list[Symbol] = []
        for symbol in symbols:
            last = self._last.get(symbol.text)
            if last is None or now - last >= self.cooldown_s:
                fresh.append(symbol)
                self._last[symbol.text] = now
            elif self.extend_while_seen:
                self._last[symbol.text] = now
        # Forget codes long out of view so a gate running for weeks keeps a small table.
        expired = [text for text, at in self._last.items() if now - at >= self.cooldown_s]
        for text in expired:
            if text not in {s.text for s in fresh}:
                del self._last[text]
        return fresh

    def clear(self) -> None:
        """Forget every code seen so far."""
        self._last.clear()
