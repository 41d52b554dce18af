"""PinConfig holds the gate's wiring defaults and refuses wiring that cannot work."""
from __future__ import annotations

import pytest

from kiosk.gpio import PinConfig


def test_defaults_match_the_documented_wiring():
    config = PinConfig()
    assert config.pins() == {
        "relay": 17, "buzzer": 27, "contact": 22, "exit_button": 23, "override_button": 24}
    assert (config.relay_active_high, config.buzzer_active_high) == (False, True)
    assert (config.unlock_seconds, config.held_open_seconds) == (3.0, 15.0)


@pytest.mark.parametrize("changes, problem", [
    ({"buzzer_pin": 17}, "share a pin"),
    ({"exit_button_pin": 22}, "share a pin"),
    ({"unlock_seconds": 0}, "unlock_seconds"),
    ({"held_open_seconds": -1}, "held_open_seconds"),
    ({"relock_grace_seconds": -0.1}, "relock_grace_seconds"),
])
def test_impossible_wiring_is_refused(changes, problem):
    with pytest.raises(ValueError, match=problem):
        PinConfig(**changes)
