"""Mock GPIO pins for tests, and helpers to read a mock pin's history.

Register the fixtures for every test with ``pytest_plugins = ["tests.gpio_fixtures"]``
in tests/conftest.py, or import them: ``from tests.gpio_fixtures import mock_pins``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin, PinState


def _install(pin_class: type[MockPin]) -> Iterator[MockFactory]:
    saved = Device.pin_factory
    factory = MockFactory(pin_class=pin_class)
    # Also the default, so a device built without pin_factory= gets mock pins too.
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = saved


@pytest.fixture
def mock_pins() -> Iterator[MockFactory]:
    """A fresh MockFactory, installed as gpiozero's default, reset afterwards."""
    yield from _install(MockPin)


@pytest.fixture
def mock_pwm_pins() -> Iterator[MockFactory]:
    """Like mock_pins, with pins that support PWM (for TonalBuzzer, PWMLED and the like)."""
    yield from _install(MockPWMPin)


def high_pulses(states: Sequence[PinState]) -> list[float]:
    """Return how long each completed high period in a MockPin's *states* lasted, in order."""
    return _pulses(states, level=True)


def low_pulses(states: Sequence[PinState]) -> list[float]:
    """Return how long each completed low period in a MockPin's *states* lasted, in order."""
    return _pulses(states, level=False)


def _pulses(states: Sequence[PinState], level: bool) -> list[float]:
    # Each entry is (seconds since the previous change, new state), so the entry
    # that leaves *level* says how long the pin stayed there.
    return [
        lasted
        for (_, before), (lasted, after) in zip(states, states[1:])
        if bool(before) == level and bool(after) != level
    ]


def wait_for(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll *condition* until it holds or *timeout* seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
