"""The one list of the kiosk's modes, in precedence order: a scan goes to the first mode
that takes it, the screen shows the first one in charge (kiosk/modes/stack.py). A new
mode is its own file in kiosk/modes/ (a `Mode`, kiosk/modes/base.py) and one line here.
"""
from __future__ import annotations

from kiosk.modes.base import Mode
from kiosk.modes.courier import CourierMode
from kiosk.modes.entry import EntryMode
from kiosk.modes.pickup import PickupMode

REGISTERED: tuple[type[Mode], ...] = (
    CourierMode,   # a courier's badge opens a drop-off at any kiosk; then its waybills
    PickupMode,    # the parcel area (role "parcels"): every other scan is the desk's
    EntryMode,     # what is left is a person at the gate
)
