"""Our lgpio pins: the relay line is claimed at its locked level in one call (no unlock
blip at start), stays driven locked when the kiosk closes its pins, and lgpio finds a
writable $LG_WD when it is imported.

lgpio needs a /dev/gpiochip, which this machine lacks, so most tests run gpiozero's real
lgpio pin code against a recording stand-in for the lgpio module (below); the last tests
import the real lgpio (its FIFO lands in LG_WD) and, where there is a chip, drive it
(H1's VM test does, on gpio-sim).
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiosk.gpio import Door, PinConfig
from kiosk.gpio import factory as factory_module
from kiosk.gpio.factory import choose_pin_factory, prepare_work_dir

PI4_REVISION = 0xC03111
MODULES = ("lgpio", "gpiozero.pins.lgpio", "kiosk.gpio.lgpio_pins")

FAKE_LGPIO = textwrap.dedent('''
    """A stand-in for lgpio that records every call and keeps each line's mode and level."""
    import os

    WD_AT_IMPORT = os.environ.get("LG_WD")
    SET_PULL_UP, SET_PULL_DOWN, SET_PULL_NONE = 32, 64, 128
    RISING_EDGE, FALLING_EDGE, BOTH_EDGES = 1, 2, 3
    calls = []
    lines = {}   # gpio -> [direction, level, flags]; a freed line keeps its level here


    class error(Exception):
        pass


    def gpiochip_open(chip):
        calls.append(("open", chip))
        return 5

    def gpiochip_close(handle):
        calls.append(("close_chip",))

    def gpio_claim_input(handle, gpio, flags=0):
        calls.append(("claim_input", gpio))
        lines[gpio] = ["in", lines.get(gpio, ["in", 0, 0])[1], flags]

    def gpio_claim_output(handle, gpio, level=0, flags=0):
        calls.append(("claim_output", gpio, level))
        lines[gpio] = ["out", level, flags]

    def gpio_claim_alert(handle, gpio, edges, flags=0, notify_handle=None):
        calls.append(("claim_alert", gpio))
        lines[gpio] = ["in", lines.get(gpio, ["in", 0, 0])[1], flags]

    def gpio_free(handle, gpio):
        calls.append(("free", gpio))
        lines[gpio][0] = "free " + lines[gpio][0]

    def gpio_write(handle, gpio, level):
        if lines[gpio][0] != "out":
            raise error("not an output")
        calls.append(("write", gpio, int(level)))
        lines[gpio][1] = int(level)

    def gpio_read(handle, gpio):
        return lines.get(gpio, ["in", 0, 0])[1]

    def gpio_get_mode(handle, gpio):
        direction, _, flags = lines.get(gpio, ["in", 0, 0])
        return (2 if direction == "out" else 0) | (flags & (32 | 64 | 128))

    def gpio_set_debounce_micros(handle, gpio, micros):
        pass


    class _Callback:
        def cancel(self):
            pass


    def callback(handle, gpio, edges, func):
        return _Callback()
''')


@pytest.fixture
def fake_lgpio(tmp_path, monkeypatch):
    """gpiozero's lgpio pins over the stand-in; LG_WD unset, no systemd runtime folder."""
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "lgpio.py").write_text(FAKE_LGPIO)
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    monkeypatch.delenv("LG_WD", raising=False)
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    for name in MODULES:
        sys.modules.pop(name, None)
    yield
    for name in MODULES:
        sys.modules.pop(name, None)


def lgpio_factory(tmp_path, monkeypatch, chip=0):
    chosen = choose_pin_factory("lgpio", chip=chip, work_dir=tmp_path / "run")
    # gpiozero maps BCM numbers to header pins from the Pi's revision (none here).
    monkeypatch.setattr(type(chosen.factory), "_get_revision", lambda self: PI4_REVISION)
    return chosen, sys.modules["lgpio"]


@pytest.mark.parametrize("active_high", [False, True], ids=["active-low", "active-high"])
def test_the_relay_line_is_claimed_at_its_locked_level_in_one_call(
        fake_lgpio, tmp_path, monkeypatch, active_high):
    chosen, lgpio = lgpio_factory(tmp_path, monkeypatch)
    locked = 0 if active_high else 1
    door = Door(PinConfig(relay_active_high=active_high), pin_factory=chosen.factory)
    relay = [c for c in lgpio.calls if c[1:2] == (17,)]
    # Claimed as an output once, at the locked level, and nothing before: no floating
    # input, no other level written.
    assert relay == [("claim_output", 17, locked)]
    door.unlock(5)
    assert lgpio.lines[17][:2] == ["out", 1 - locked]
    door.close()
    chosen.factory.close()
    # Closing relocks, then releases the line still driving the locked level (a Pi keeps
    # it), never turning it into a floating input.
    assert lgpio.lines[17][:2] == ["free out", locked]
    after_free = lgpio.calls[lgpio.calls.index(("free", 17)):]
    assert ("claim_input", 17) not in after_free


def test_inputs_still_work_on_the_changed_pins(fake_lgpio, tmp_path, monkeypatch):
    chosen, lgpio = lgpio_factory(tmp_path, monkeypatch)
    door = Door(PinConfig(), pin_factory=chosen.factory)
    assert lgpio.lines[22][0] == "in" and lgpio.lines[22][2] == lgpio.SET_PULL_UP
    assert door.is_open is False  # the contact reads low: shut
    door.close()
    chosen.factory.close()
    assert lgpio.lines[22][0] == "in"  # inputs go back to plain inputs, as gpiozero does


def test_lg_wd_is_set_before_lgpio_is_imported(fake_lgpio, tmp_path, monkeypatch):
    chosen, lgpio = lgpio_factory(tmp_path, monkeypatch)
    assert lgpio.WD_AT_IMPORT == str(tmp_path / "run")
    assert (tmp_path / "run").is_dir()
    assert chosen.kind == "lgpio" and ("open", 0) in lgpio.calls
    chosen.factory.close()


def test_the_relay_chip_is_passed_to_lgpio(fake_lgpio, tmp_path, monkeypatch):
    chosen, lgpio = lgpio_factory(tmp_path, monkeypatch, chip=4)
    assert ("open", 4) in lgpio.calls
    chosen.factory.close()


def test_work_dir_prefers_an_existing_lg_wd_then_systemds_runtime_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LG_WD", "/somewhere/set")
    assert prepare_work_dir(tmp_path / "run") == "/somewhere/set"
    monkeypatch.delenv("LG_WD")
    monkeypatch.setenv("RUNTIME_DIRECTORY", f"{tmp_path / 'rt'}:{tmp_path / 'other'}")
    assert prepare_work_dir(tmp_path / "run") == str(tmp_path / "rt")
    monkeypatch.delenv("LG_WD")
    monkeypatch.delenv("RUNTIME_DIRECTORY")
    assert prepare_work_dir(tmp_path / "run") == str(tmp_path / "run")
    assert (tmp_path / "run").is_dir()


def test_lgpio_is_our_locked_start_factory():
    assert factory_module.FACTORIES["lgpio"] == ("kiosk.gpio.lgpio_pins", "LockedStartFactory")


@pytest.mark.skipif(not glob.glob("/dev/gpiochip*"), reason="no /dev/gpiochip on this machine "
                    "(the VM test proves this on a gpio-sim chip)")
@pytest.mark.parametrize("active_high", [False, True], ids=["active-low", "active-high"])
def test_real_lgpio_claims_the_relay_locked(tmp_path, monkeypatch, active_high):
    pytest.importorskip("lgpio", reason="lgpio is not installed (the [gate] extra)")
    chosen = choose_pin_factory("lgpio", work_dir=tmp_path)
    try:
        door = Door(PinConfig(relay_active_high=active_high, contact_pin=None,
                              exit_button_pin=None, override_button_pin=None),
                    pin_factory=chosen.factory)
        import lgpio
        level = lgpio.gpio_read(chosen.factory._handle, 17)
        assert level == (0 if active_high else 1)
        door.close()
    finally:
        chosen.factory.close()


def test_real_lgpio_writes_its_fifo_into_the_work_dir_not_the_current_one(tmp_path):
    """The real lgpio import (no chip needed): its FIFO lands where LG_WD points."""
    pytest.importorskip("lgpio", reason="lgpio is not installed (the [gate] extra)")
    cwd, work = tmp_path / "cwd", tmp_path / "run"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LG_WD", "RUNTIME_DIRECTORY")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    script = ("import sys; from pathlib import Path; from kiosk.gpio.factory import "
              "choose_pin_factory\n"
              "try:\n    choose_pin_factory('lgpio', chip=0, work_dir=Path(sys.argv[1]))\n"
              "except Exception as e:\n    print(e)\n")
    subprocess.run([sys.executable, "-c", script, str(work)], cwd=cwd, env=env, check=True,
                   capture_output=True, timeout=30)
    assert [p.name for p in work.iterdir() if p.name.startswith(".lgd-nfy")]
    assert not list(cwd.iterdir())
