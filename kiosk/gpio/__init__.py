"""The gate's hardware behind gpiozero: door strike, contact, buttons and buzzer.

This package is the only one that imports gpiozero; the rest of the kiosk gets
a GateHardware (or a Door and a Sounder) and never sees a pin.
"""
from __future__ import annotations

from kiosk.gpio.buzzer import Beeps, Pattern, Sounder
from kiosk.gpio.config import PinConfig
from kiosk.gpio.door import Door, DoorAlarm
from kiosk.gpio.factory import PinFactoryUnavailable, choose_pin_factory
from kiosk.gpio.hardware import GateHardware, create_hardware

__all__ = [
    "Beeps",
    "Door",
    "DoorAlarm",
    "GateHardware",
    "Pattern",
    "PinConfig",
    "PinFactoryUnavailable",
    "Sounder",
    "choose_pin_factory",
    "create_hardware",
]
