"""GateHardware: the door and sounder of one gate, built together and closed together."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gpiozero import Factory
from gpiozero.pins.mock import MockFactory

from kiosk.gpio.buzzer import Sounder
from kiosk.gpio.config import PinConfig
from kiosk.gpio.door import Door
from kiosk.gpio.factory import choose_pin_factory

log = logging.getLogger(__name__)


class GateHardware:
    """The Door and Sounder of one gate on one pin factory.

    The gate sets its callbacks on ``door`` (``on_alarm``, ``on_door``,
    ``on_exit_request``, ``on_override``) and shows ``description`` on its
    status line; ``kind`` ("mock", "lgpio", ...) travels with its start event and
    heartbeats, so an operator sees when the pins are mocks.

    >>> from gpiozero.pins.mock import MockFactory
    >>> with GateHardware(PinConfig(), MockFactory(), description="mock pins") as hardware:
    ...     hardware.door.is_unlocked
    False
    """

    def __init__(
        self,
        config: PinConfig | None = None,
        pin_factory: Factory | None = None,
        *,
        description: str = "",
        kind: str | None = None,
        clock: Callable[[], float] = time.time,
        owns_factory: bool = False,
    ) -> None:
        self.config = config or PinConfig()
        self.description = description
        # "mock" is what the office and the screen must see: this gate's door is not wired.
        self.kind = kind or ("mock" if isinstance(pin_factory, MockFactory) else "unknown")
        self._pin_factory = pin_factory
        self._owns_factory = owns_factory
        self._lock = threading.RLock()  # re-entrant: close() may run from a signal handler
        self._closed = False
        self.door = Door(self.config, pin_factory=pin_factory, clock=clock)
        try:
            self.sounder = Sounder(self.config, pin_factory=pin_factory)
        except BaseException:
            self.door.close()
            raise

    @property
    def pin_factory(self) -> Factory | None:
        """The pin factory (tests read a MockFactory's pin history through it)."""
        return self._pin_factory

    def close(self) -> None:
        """Lock the door, silence the buzzer and release the pins; safe to call twice.

        Never raises, so it is safe in finally blocks and SIGTERM handlers;
        failures are logged.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # The door first: if anything below fails, it is already locked.
            for step, action in (("lock the door", self.door.close),
                                 ("silence the buzzer", self.sounder.close),
                                 ("close the pin factory", self._close_factory)):
                try:
                    action()
                except Exception:
                    log.critical("could not %s", step, exc_info=True)

    def _close_factory(self) -> None:
        if self._owns_factory and self._pin_factory is not None:
            self._pin_factory.close()

    def __enter__(self) -> GateHardware:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def create_hardware(config: PinConfig | None = None, factory_name: str | None = None, *,
                    chip: int | None = None, work_dir: Path | None = None) -> GateHardware:
    """Build a gate's hardware on the pin factory chosen by choose_pin_factory(factory_name).

    Raises PinFactoryUnavailable on a machine without GPIO unless mock pins are asked for."""
    pin_factory, description, kind = choose_pin_factory(factory_name, chip=chip,
                                                        work_dir=work_dir)
    try:
        hardware = GateHardware(config, pin_factory, description=description, kind=kind,
                                owns_factory=True)
    except BaseException:
        pin_factory.close()
        raise
    contact = hardware.config.contact_pin
    if isinstance(pin_factory, MockFactory) and contact is not None:
        # Simulated hardware: the door starts shut. A mock line with the pull-up reads
        # "open", which would raise a held-open alarm at every demo gate.
        pin_factory.pin(contact).drive_low()
    return hardware
