"""Pin numbers, polarities and timings of one gate's hardware, with every default here.

Pins are BCM numbers. Change them here (or pass a PinConfig) when a gate is wired
differently; nothing else in the project knows a pin number.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PinConfig:
    """How the strike relay, buzzer, door contact and buttons of a gate are wired.

    Relay: the board's IN pin to ``relay_pin``; most cheap relay boards switch
    on when IN is pulled low, hence ``relay_active_high=False``. Wire the strike
    fail-secure (locked when unpowered) to the relay's NO contact, so that a
    gate with no software running keeps the door locked.

    Buzzer: the positive leg (or the driver transistor's base) to
    ``buzzer_pin``, the negative leg to ground.

    Door contact: one side of the reed switch to ``contact_pin``, the other to
    ground; the switch is closed while the door is shut, so the pin reads low
    then and the internal pull-up makes an open door (or a cut wire) read high.

    Exit button: one side to ``exit_button_pin``, the other to ground.

    Override button: one side to ``override_button_pin``, the other to ground.

    A pin of ``None`` means the gate has no such device.

    >>> PinConfig().relay_pin, PinConfig().relay_active_high
    (17, False)
    """

    relay_pin: int = 17
    relay_active_high: bool = False
    unlock_seconds: float = 3.0

    buzzer_pin: int = 27
    buzzer_active_high: bool = True

    contact_pin: int | None = 22
    contact_pull_up: bool = True
    contact_bounce_seconds: float | None = 0.05
    held_open_seconds: float = 15.0
    # People pull the door just as the strike clicks shut; an opening this soon
    # after a relock is the tail of the admit, not a break-in.
    relock_grace_seconds: float = 1.0

    exit_button_pin: int | None = 23
    override_button_pin: int | None = 24
    button_bounce_seconds: float | None = 0.05

    def __post_init__(self) -> None:
        if self.unlock_seconds <= 0:
            raise ValueError(f"unlock_seconds must be positive, not {self.unlock_seconds}")
        if self.held_open_seconds <= 0:
            raise ValueError(f"held_open_seconds must be positive, not {self.held_open_seconds}")
        if self.relock_grace_seconds < 0:
            raise ValueError(f"relock_grace_seconds must not be negative, not {self.relock_grace_seconds}")
        pins = [pin for pin in self.pins().values() if pin is not None]
        if len(pins) != len(set(pins)):
            raise ValueError(f"two devices share a pin: {self.pins()}")

    def pins(self) -> dict[str, int | None]:
        """Return each device's pin by device name."""
        return {
            "relay": self.relay_pin,
            "buzzer": self.buzzer_pin,
            "contact": self.contact_pin,
            "exit_button": self.exit_button_pin,
            "override_button": self.override_button_pin,
        }
