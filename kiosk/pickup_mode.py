"""Old entry points of the parcel area's desk, kept only for tests/event_recorder.py.

The parcel area is kiosk/modes/pickup.py (PickupMode): call its methods on
`gate.modes.get(PickupMode)`. Delete this file once the recorder does.
"""
from __future__ import annotations

from kiosk.gate import Gate
from kiosk.modes.pickup import PickupMode
from kiosk.pickup_desk import CodeResult


def key_code(gate: Gate, text: str, now: float) -> CodeResult:
    return gate.modes.get(PickupMode).key_code(text, now)


def done(gate: Gate, now: float) -> bool:
    return gate.modes.get(PickupMode).done(now)
