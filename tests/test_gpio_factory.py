"""The pin factory is the one asked for, else the best that loads; mock pins only when asked for."""
from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.gpio import PinFactoryUnavailable, choose_pin_factory
from kiosk.gpio import factory as factory_module


class FakeFactory:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.fixture
def board(monkeypatch, tmp_path):
    """A machine whose only loadable factories are those added to the returned set."""
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    loadable: set[str] = set()
    tried: list[str] = []

    def load(name: str, chip=None, work_dir=None):
        tried.append(name)
        if name not in loadable:
            raise ImportError(f"no module named {name}")
        return FakeFactory(name)

    monkeypatch.setattr(factory_module, "_load", load)
    model = tmp_path / "model"
    return loadable, tried, model


def test_without_gpio_it_refuses_and_says_how_to_ask_for_mock_pins(board):
    _, tried, model = board
    with pytest.raises(PinFactoryUnavailable) as failed:
        choose_pin_factory(model_path=model)
    assert "no GPIO on this machine" in str(failed.value)
    assert 'pin_factory = "mock"' in str(failed.value) and "--pin-factory mock" in str(failed.value)
    assert tried == ["lgpio", "rpigpio", "native"]


def test_lgpio_is_preferred_when_it_loads(board):
    loadable, tried, model = board
    loadable.update({"lgpio", "rpigpio"})
    model.write_text("Raspberry Pi 4 Model B Rev 1.4\x00")
    pin_factory, description, kind = choose_pin_factory(model_path=model)
    assert pin_factory.name == "lgpio" and kind == "lgpio"
    assert description == "lgpio pins on Raspberry Pi 4 Model B Rev 1.4"


def test_an_older_factory_serves_when_lgpio_is_missing(board):
    loadable, _, model = board
    loadable.add("rpigpio")
    pin_factory, _, kind = choose_pin_factory(model_path=model)
    assert pin_factory.name == "rpigpio" and kind == "rpigpio"


def test_a_pi_5_tries_only_lgpio(board):
    loadable, tried, model = board
    loadable.add("rpigpio")  # would load, but cannot drive a Pi 5's GPIO
    model.write_text("Raspberry Pi 5 Model B Rev 1.0\x00")
    with pytest.raises(PinFactoryUnavailable, match="Raspberry Pi 5"):
        choose_pin_factory(model_path=model)
    assert tried == ["lgpio"]


def test_the_environment_variable_names_the_factory(board, monkeypatch):
    loadable, tried, model = board
    loadable.update({"lgpio", "native"})
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "native")
    pin_factory, description, _ = choose_pin_factory(model_path=model)
    assert (pin_factory.name, description) == ("native", "native pins")
    assert tried == ["native"]


def test_an_explicit_name_beats_the_environment(board, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")
    pin_factory, description, kind = choose_pin_factory("mock")
    assert isinstance(pin_factory, MockFactory)
    assert (description, kind) == ("mock pins (mock asked for)", "mock")


def test_a_named_factory_that_cannot_load_is_an_error_not_mocks(board):
    with pytest.raises(PinFactoryUnavailable, match="lgpio"):
        choose_pin_factory("lgpio")


def test_an_unknown_name_is_an_error(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    with pytest.raises(PinFactoryUnavailable, match="unknown pin factory 'gpiod'"):
        choose_pin_factory("gpiod")
