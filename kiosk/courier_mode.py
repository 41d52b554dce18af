"""Old entry points of the courier drop-off, kept only for tests/event_recorder.py.

The drop-off is kiosk/modes/courier.py (CourierMode): call its methods on
`gate.modes.get(CourierMode)`. Delete this file once the recorder does.
"""
from __future__ import annotations

from kiosk.gate import Gate
from kiosk.modes.courier import CourierMode


def _mode(gate: Gate) -> CourierMode:
    return gate.modes.get(CourierMode)


def add_waybill(gate: Gate, text: str, now: float, keyed_by: str | None = None) -> bool:
    return _mode(gate).add_waybill(text, now, keyed_by)


def undo_last(gate: Gate, now: float, by: str) -> None:
    _mode(gate).undo_last(now, by)


def end(gate: Gate, now: float, by: str | None = None) -> None:
    _mode(gate).end(now, by)
