"""gpiozero's lgpio pins, changed in the two ways a door relay needs.

1. An output is claimed at its first level in one call. gpiozero's LGPIOPin claims
   every line as a floating input when it is created, then claims an output at level 0,
   and only then writes the level asked for; on an active-low relay board
   that 0 is "unlocked" for as long as it lasts (issue 12), and the floating input
   stops driving the locked level the door-lock unit left on the line. Here a line is
   claimed only when its device says what it is, and an output with
   `lgpio.gpio_claim_output(handle, gpio, level)`: direction and level together.
2. Closing an output leaves it driving its last level instead of turning it into a
   floating input: the door is locked before the pins close, and a Raspberry Pi
   kernel keeps a released output at its last level, so the line stays locked
   until the next `kiosk run` (or the door-lock unit) claims it.

lgpio also writes a notification FIFO (`.lgd-nfy-N`) into $LG_WD, else the current
directory, when it is imported; under systemd with ProtectSystem=strict the current
directory is a read-only `/` and the import fails. kiosk.gpio.factory.prepare_work_dir
points LG_WD at a writable folder before it imports this module.

Only kiosk/gpio/factory.py imports this module, and only when lgpio pins are asked
for or tried, because importing gpiozero.pins.lgpio imports lgpio itself.
"""
from __future__ import annotations

import lgpio
from gpiozero.pins.lgpio import LGPIOFactory, LGPIOPin
from gpiozero.pins.local import LocalPiPin


class LockedStartPin(LGPIOPin):
    """An lgpio pin whose output is claimed at its first level (see the module's doc)."""

    def __init__(self, factory, info) -> None:
        # LGPIOPin.__init__ without its claim as a floating input: the device built on
        # this pin claims the line a moment later, as an input or at its output level.
        # These are the attributes gpiozero 2.0's __init__ sets; tests/test_gpio_lgpio.py
        # runs gpiozero's own pin code over a recording lgpio, so a drift shows there.
        LocalPiPin.__init__(self, factory, info)
        self._pwm = None
        self._bounce = None
        self._callback = None
        self._edges = lgpio.BOTH_EDGES
        self._released = False

    def output_with_state(self, state) -> None:
        # gpiozero calls this once as an OutputDevice is built, with initial_value's
        # level; one ioctl sets direction and level, so no other level ever reaches the line.
        if self._callback is not None:  # it was an input with edge detection
            self._callback.cancel()
            self._callback = None
        lgpio.gpio_claim_output(self.factory._handle, self._number, 1 if state else 0)
        self._released = False

    def _set_function(self, value) -> None:
        super()._set_function(value)
        self._released = False

    def close(self) -> None:
        # gpiozero closes a pin twice (the device, then the factory): the second time
        # must not turn the released output into an input.
        if self._released:
            return
        handle = self.factory._handle
        if handle is not None and self.function == "output":
            lgpio.gpio_free(handle, self._number)  # a Pi keeps driving its last level
            self._released = True
            return
        super().close()


class LockedStartFactory(LGPIOFactory):
    """LGPIOFactory with LockedStartPin; *chip* None lets gpiozero pick (4 on a Pi 5)."""

    def __init__(self, chip: int | None = None) -> None:
        super().__init__(chip=chip)
        self.pin_class = LockedStartPin
