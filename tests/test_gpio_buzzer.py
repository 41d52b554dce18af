"""Each beep pattern sounds different, one replaces another, and stop and close leave silence."""
from __future__ import annotations

import time

import pytest

from kiosk.gpio import Pattern, PinConfig, Sounder
from tests.gpio_fixtures import high_pulses, low_pulses, wait_for

CONFIG = PinConfig()
TOLERANCE = 0.05


@pytest.fixture
def sounder(mock_pins):
    sounder = Sounder(CONFIG, pin_factory=mock_pins)
    yield sounder, mock_pins.pin(CONFIG.buzzer_pin)
    sounder.close()


@pytest.mark.parametrize(
    "pattern, beeps, seconds",
    [(Pattern.ADMIT, 1, 0.1), (Pattern.REFER, 2, 0.25), (Pattern.REFUSE, 3, 0.6)],
    ids=["admit", "refer", "refuse"],
)
def test_pattern_sounds_its_own_number_and_length_of_beeps(sounder, pattern, beeps, seconds):
    sounder, pin = sounder
    sounder.play(pattern)
    assert wait_for(lambda: len(high_pulses(pin.states)) >= beeps, timeout=3)
    time.sleep(0.3)  # long enough for one more beep, if one were coming

    heard = high_pulses(pin.states)
    assert len(heard) == beeps
    # Each beep is heard as this pattern's, not another's: nearest to its own length (a
    # loaded machine stretched a 0.25 s beep to 0.33 s; the ear still tells them apart).
    lengths = sorted({p.value.on for p in Pattern})
    assert [min(lengths, key=lambda s, b=b: abs(s - b)) for b in heard] == [seconds] * beeps
    assert not pin.state
    assert not sounder.is_playing


def test_patterns_are_told_apart_by_ear():
    heard = {(p.value.count, p.value.on) for p in Pattern}
    assert len(heard) == len(Pattern)


def test_alarm_repeats_until_stopped(sounder):
    sounder, pin = sounder
    sounder.play(Pattern.ALARM)
    assert wait_for(lambda: len(high_pulses(pin.states)) >= 3, timeout=3)
    assert sounder.is_playing

    sounder.stop()
    assert not pin.state
    changes = len(pin.states)
    time.sleep(0.3)
    assert len(pin.states) == changes
    assert not sounder.is_playing


def test_a_new_pattern_replaces_the_one_playing(sounder):
    sounder, pin = sounder
    sounder.play(Pattern.ALARM)
    assert wait_for(lambda: len(high_pulses(pin.states)) >= 2, timeout=3)
    before = len(pin.states)

    sounder.play(Pattern.ADMIT)
    time.sleep(0.5)  # the alarm would have beeped twice more by now

    assert high_pulses(pin.states[before - 1:]) == [pytest.approx(0.1, abs=TOLERANCE)]
    assert not pin.state


def test_close_mid_beep_leaves_the_buzzer_silent(sounder):
    sounder, pin = sounder
    sounder.play(Pattern.REFUSE)
    assert wait_for(lambda: pin.state, timeout=1)
    sounder.close()
    assert not pin.state
    changes = len(pin.states)
    time.sleep(0.3)
    assert len(pin.states) == changes
    sounder.close()  # a second close is harmless
    sounder.play(Pattern.ADMIT)  # and playing after close stays silent
    assert len(pin.states) == changes


def test_active_low_buzzer_idles_high_and_beeps_low(mock_pins):
    config = PinConfig(buzzer_active_high=False)
    pin = mock_pins.pin(config.buzzer_pin)
    with Sounder(config, pin_factory=mock_pins) as sounder:
        assert pin.state
        pin.clear_states()
        sounder.play(Pattern.ADMIT)
        assert wait_for(lambda: len(low_pulses(pin.states)) >= 1, timeout=1)
        assert low_pulses(pin.states) == [pytest.approx(0.1, abs=TOLERANCE)]
        assert [state for _, state in pin.states] == [True, False, True]
    assert pin.state
