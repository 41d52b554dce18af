"""Choose gpiozero's pin factory: the one seam between the gate and its GPIO chip."""
from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

from gpiozero import Factory
from gpiozero.pins.mock import MockFactory

log = logging.getLogger(__name__)

ENV_VAR = "GPIOZERO_PIN_FACTORY"
MODEL_PATH = Path("/proc/device-tree/model")
# lgpio first: it is the only one that works on a Pi 5 and works on every older Pi too.
PREFERRED = ("lgpio", "rpigpio", "native")
FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
}
NO_GPIO = "mock pins (no GPIO on this machine)"


class PinFactoryUnavailable(RuntimeError):
    """The pin factory asked for by name cannot drive this machine's GPIO."""


def candidates(model: str) -> tuple[str, ...]:
    """Return the factories worth trying, best first, on a board whose device-tree model is *model*."""
    if model.startswith("Raspberry Pi 5"):
        return ("lgpio",)
    return PREFERRED


def choose_pin_factory(name: str | None = None, *, model_path: Path = MODEL_PATH) -> tuple[Factory, str]:
    """Return a pin factory and a description of it for the operator's status line.

    *name* (or else $GPIOZERO_PIN_FACTORY) picks one factory: "lgpio", "rpigpio",
    "pigpio", "native" or "mock"; one that cannot load raises
    PinFactoryUnavailable, because the operator asked for real pins. With no
    name the best loadable factory wins, and a machine without GPIO gets mock
    pins with a warning: a gate whose door can never open must say so.

    >>> factory, description = choose_pin_factory("mock")
    >>> description
    'mock pins (mock asked for)'
    """
    name = name or os.environ.get(ENV_VAR) or None
    if name is not None:
        name = name.lower()
        if name == "mock":
            return MockFactory(), "mock pins (mock asked for)"
        try:
            return _load(name), f"{name} pins"
        except Exception as error:
            raise PinFactoryUnavailable(f"pin factory {name!r} cannot be used here: {error}") from error

    model = _read_model(model_path)
    reasons = []
    for candidate in candidates(model):
        try:
            factory = _load(candidate)
        except Exception as error:
            reasons.append(f"{candidate}: {error}")
            continue
        return factory, f"{candidate} pins on {model or 'an unknown board'}"
    log.warning("%s; the door will never open. Tried %s", NO_GPIO, "; ".join(reasons))
    return MockFactory(), NO_GPIO


def _load(name: str) -> Factory:
    try:
        module_name, class_name = FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown pin factory {name!r}; choose one of {sorted(FACTORIES)} or 'mock'") from None
    return getattr(importlib.import_module(module_name), class_name)()


def _read_model(path: Path) -> str:
    try:
        # The device tree ends the string with a NUL.
        return path.read_text(errors="replace").rstrip("\x00\n")
    except OSError:
        return ""
