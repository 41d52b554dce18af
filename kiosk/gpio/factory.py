"""Choose gpiozero's pin factory: the one seam between the gate and its GPIO chip.

A gate never falls back to simulated pins by itself: a kiosk that "works" with no door
is worse than one that stops and says why. Mock pins are used only when asked for by
name (config `pin_factory = "mock"`, `--pin-factory mock` or $GPIOZERO_PIN_FACTORY).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import NamedTuple

from gpiozero import Factory
from gpiozero.pins.mock import MockFactory

ENV_VAR = "GPIOZERO_PIN_FACTORY"
MODEL_PATH = Path("/proc/device-tree/model")
# lgpio first: it is the only one that works on a Pi 5 and works on every older Pi too.
PREFERRED = ("lgpio", "rpigpio", "native")
FACTORIES = {
    # Our lgpio factory claims outputs at their first level (no unlock blip at start).
    "lgpio": ("kiosk.gpio.lgpio_pins", "LockedStartFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
}
ASK_FOR_MOCK = ('to run with simulated pins (the door is not connected) say so: '
                'pin_factory = "mock" in config.toml or `kiosk run --pin-factory mock`')


class PinFactoryUnavailable(RuntimeError):
    """No pin factory that can drive this machine's GPIO (or the one named cannot)."""


class ChosenPins(NamedTuple):
    factory: Factory
    description: str  # for the operator's status line
    kind: str         # "lgpio", "rpigpio", "native", "pigpio" or "mock"


def candidates(model: str) -> tuple[str, ...]:
    """Return the factories worth trying, best first, on a board whose device-tree model is *model*."""
    if model.startswith("Raspberry Pi 5"):
        return ("lgpio",)
    return PREFERRED


def choose_pin_factory(name: str | None = None, *, model_path: Path = MODEL_PATH,
                       chip: int | None = None, work_dir: Path | None = None) -> ChosenPins:
    """Return the pin factory for this gate, its description and its kind.

    *name* (or else $GPIOZERO_PIN_FACTORY) picks one factory: "lgpio", "rpigpio",
    "pigpio", "native" or "mock"; one that cannot load raises PinFactoryUnavailable.
    With no name the best loadable factory wins; when none loads, PinFactoryUnavailable
    says what was tried and how to ask for mock pins. *chip* is the gpiochip lgpio opens
    (None: gpiozero's choice, 4 on a Pi 5); *work_dir* is where lgpio may write its
    FIFO when $LG_WD and $RUNTIME_DIRECTORY are unset.

    >>> choose_pin_factory("mock").description
    'mock pins (mock asked for)'
    """
    name = name or os.environ.get(ENV_VAR) or None
    if name is not None:
        name = name.lower()
        if name == "mock":
            return ChosenPins(MockFactory(), "mock pins (mock asked for)", "mock")
        try:
            return ChosenPins(_load(name, chip, work_dir), f"{name} pins", name)
        except Exception as error:
            raise PinFactoryUnavailable(f"pin factory {name!r} cannot be used here: {error}") from error

    model = _read_model(model_path)
    reasons = []
    for candidate in candidates(model):
        try:
            factory = _load(candidate, chip, work_dir)
        except Exception as error:
            reasons.append(f"{candidate}: {error}")
            continue
        return ChosenPins(factory, f"{candidate} pins on {model or 'an unknown board'}", candidate)
    raise PinFactoryUnavailable(
        f"no GPIO on this machine ({model or 'not a Raspberry Pi'}; tried "
        f"{'; '.join(reasons)}); {ASK_FOR_MOCK}")


def prepare_work_dir(fallback: Path | None) -> str | None:
    """Set $LG_WD to a writable folder unless it is set; return the folder used.

    lgpio creates its notification FIFO there as it is imported, else in the current
    directory, which is a read-only `/` under a hardened unit (gpiozero #1106).
    systemd's $RUNTIME_DIRECTORY (RuntimeDirectory=) first, then *fallback*."""
    if os.environ.get("LG_WD"):
        return os.environ["LG_WD"]
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    folder = Path(runtime) if runtime else fallback
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["LG_WD"] = str(folder)
    return str(folder)


def _load(name: str, chip: int | None = None, work_dir: Path | None = None) -> Factory:
    try:
        module_name, class_name = FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown pin factory {name!r}; choose one of {sorted(FACTORIES)} or 'mock'") from None
    if name == "lgpio":
        prepare_work_dir(work_dir)  # before lgpio is imported: it writes there at import
        return getattr(importlib.import_module(module_name), class_name)(chip)
    return getattr(importlib.import_module(module_name), class_name)()


def _read_model(path: Path) -> str:
    try:
        # The device tree ends the string with a NUL.
        return path.read_text(errors="replace").rstrip("\x00\n")
    except OSError:
        return ""
