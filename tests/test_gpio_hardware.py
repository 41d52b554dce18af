"""GateHardware builds the door and sounder, and close() always leaves the door locked and the buzzer silent."""
from __future__ import annotations

import doctest
import logging

import pytest

from kiosk.gpio import (
    GateHardware,
    PinFactoryUnavailable,
    Pattern,
    PinConfig,
    buzzer,
    config,
    create_hardware,
    door,
    factory,
    hardware,
)
from tests.gpio_fixtures import wait_for

CONFIG = PinConfig(unlock_seconds=5.0)
LOCKED = not CONFIG.relay_active_high


@pytest.fixture
def parts(mock_pins):
    relay = mock_pins.pin(CONFIG.relay_pin)
    relay.drive_high()  # an active-low relay board idles high
    hardware = GateHardware(CONFIG, mock_pins, description="mock pins")
    yield hardware, relay, mock_pins.pin(CONFIG.buzzer_pin)
    hardware.close()


def test_close_locks_the_door_and_silences_the_buzzer_twice_over(parts):
    hardware, relay, buzzer_pin = parts
    hardware.door.unlock()
    hardware.sounder.play(Pattern.ALARM)
    assert wait_for(lambda: buzzer_pin.state, timeout=1)
    assert relay.state != LOCKED

    hardware.close()
    hardware.close()

    assert relay.state == LOCKED
    assert not buzzer_pin.state


def test_close_locks_the_door_even_when_the_buzzer_fails(parts, caplog):
    hardware, relay, _ = parts

    def broken() -> None:
        raise RuntimeError("buzzer wire cut")

    hardware.sounder.close = broken
    hardware.door.unlock()
    with caplog.at_level(logging.CRITICAL, logger="kiosk.gpio.hardware"):
        hardware.close()  # must not raise: it runs in finally blocks and signal handlers
    assert relay.state == LOCKED
    assert "could not silence the buzzer" in caplog.text


def test_create_hardware_on_mock_pins_says_so():
    hardware = create_hardware(PinConfig(), "mock")
    try:
        assert hardware.description == "mock pins (mock asked for)"
        assert hardware.kind == "mock"
        assert not hardware.door.is_unlocked
    finally:
        hardware.close()


def test_create_hardware_without_gpio_refuses_rather_than_mocking(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)

    def no_gpio(name, chip=None, work_dir=None):
        raise ImportError(f"no {name} here")

    monkeypatch.setattr(factory, "_load", no_gpio)
    with pytest.raises(PinFactoryUnavailable, match='pin_factory = "mock"'):
        create_hardware(PinConfig())


@pytest.mark.parametrize("module", [buzzer, config, door, factory, hardware])
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(module)
    assert failed == 0
