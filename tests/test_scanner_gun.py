"""The scanner gun as an input of `kiosk run`: codes typed by the gun reach the same
decision path as the camera's, with the gun's own 5 s same-code debounce; a missing or
unplugged gun is looked for again; without evdev it says how to install it.

The device is a stand-in for python-evdev's InputDevice (a pipe it can select() on),
because this machine has neither evdev nor /dev/uinput; the last test types on a real
uinput keyboard where both exist (H1's VM test does, through `kiosk run`).
"""
from __future__ import annotations

import glob
import os
import queue
import sys
import time
import types

import pytest

from demo.scenes import phone_frame
from gatehouse.codes import Colour
from kiosk.scanner.gun import GunState, ScannerGun, device_of, find_keyboard
from kiosk.scanner.wedge import KEY_DOWN, KEY_UP, ScannerUnavailable, WedgeSource
from tests.conftest import ALICE_ID, HOUR
from tests.gpio_fixtures import low_pulses, wait_for

EV_KEY, SHIFT, ENTER = 1, 42, 28
KEYS = {**{c: k for k, c in enumerate("1234567890", start=2)},
        **{c: 16 + i for i, c in enumerate("qwertyuiop")},
        **{c: 30 + i for i, c in enumerate("asdfghjkl")},
        **{c: 44 + i for i, c in enumerate("zxcvbnm")},
        "-": 12, "=": 13, ":": 39, ";": 39, "/": 53, ".": 52, "+": 13, "_": 12, "$": 5,
        "%": 6, "*": 9, " ": 57}
SHIFTED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ:+_$%*")


def keystrokes(text: str) -> list[tuple[int, int]]:
    """What a US-layout gun sends for `text`, then Enter."""
    out = []
    for ch in text:
        code = KEYS[ch.lower()]
        if ch in SHIFTED:
            out += [(SHIFT, KEY_DOWN), (code, KEY_DOWN), (code, KEY_UP), (SHIFT, KEY_UP)]
        else:
            out += [(code, KEY_DOWN), (code, KEY_UP)]
    return out + [(ENTER, KEY_DOWN), (ENTER, KEY_UP)]


class FakeEvdev(types.ModuleType):
    """python-evdev's surface that WedgeSource uses, over pipes the test writes to."""

    def __init__(self):
        super().__init__("evdev")
        self.ecodes = types.SimpleNamespace(EV_KEY=EV_KEY)
        self.devices: dict[str, FakeDevice] = {}
        self.plugged: set[str] = set()
        module = self

        class InputDevice:
            def __new__(cls, path):
                if path not in module.plugged:
                    raise FileNotFoundError(2, "No such file or directory", path)
                module.devices[path] = FakeDevice(path, module.names.get(path, "keyboard"))
                return module.devices[path]
        self.InputDevice = InputDevice
        self.names: dict[str, str] = {}

    def list_devices(self):
        return sorted(self.plugged)

    def type(self, path: str, text: str) -> None:
        self.devices[path].push(keystrokes(text))

    def unplug(self, path: str) -> None:
        self.plugged.discard(path)
        self.devices[path].unplug()


class FakeDevice:
    def __init__(self, path, name):
        self.path, self.name = path, name
        self._r, self._w = os.pipe()
        self.fd = self._r
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.grabbed = self.gone = False

    def push(self, keys):
        for code, value in keys:
            self.events.put(types.SimpleNamespace(type=EV_KEY, code=code, value=value))
        os.write(self._w, b"x")

    def unplug(self):
        self.gone = True
        os.write(self._w, b"x")

    def read(self):
        os.read(self._r, 4096)
        if self.gone:
            raise OSError(19, "No such device")
        while not self.events.empty():
            yield self.events.get()

    def grab(self):
        self.grabbed = True

    def ungrab(self):
        self.grabbed = False

    def close(self):
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def evdev(monkeypatch):
    fake = FakeEvdev()
    monkeypatch.setitem(sys.modules, "evdev", fake)
    return fake


def test_codes_come_whole_and_the_gun_is_grabbed(evdev):
    evdev.plugged.add("/dev/input/gun")
    got: queue.SimpleQueue = queue.SimpleQueue()
    gun = ScannerGun("evdev:/dev/input/gun", got.put, retry_s=0.05).start()
    try:
        assert wait_for(lambda: gun.state is GunState.OK)
        assert evdev.devices["/dev/input/gun"].grabbed  # keystrokes reach only the kiosk
        evdev.type("/dev/input/gun", "SF1234567890")
        evdev.type("/dev/input/gun", "jd-42")
        assert got.get(timeout=2) == "SF1234567890" and got.get(timeout=2) == "jd-42"
    finally:
        gun.close()


def test_a_missing_then_unplugged_gun_is_looked_for_again(evdev):
    states = []
    got: queue.SimpleQueue = queue.SimpleQueue()
    gun = ScannerGun("evdev:/dev/input/gun", got.put, retry_s=0.05,
                     on_state=lambda s, p: states.append(s)).start()
    try:
        assert wait_for(lambda: gun.state is GunState.MISSING)
        assert "No such file" in gun.problem
        evdev.plugged.add("/dev/input/gun")
        assert wait_for(lambda: gun.state is GunState.OK)
        evdev.unplug("/dev/input/gun")
        assert wait_for(lambda: gun.state is GunState.MISSING)
        evdev.plugged.add("/dev/input/gun")
        assert wait_for(lambda: gun.state is GunState.OK)
        evdev.type("/dev/input/gun", "abc")
        assert got.get(timeout=2) == "abc"
        assert states == [GunState.MISSING, GunState.OK, GunState.MISSING, GunState.OK]
    finally:
        gun.close()


def test_without_evdev_the_gun_says_how_to_install_it_and_the_kiosk_runs_on(monkeypatch):
    monkeypatch.setitem(sys.modules, "evdev", None)  # what a venv without python3-evdev sees
    with pytest.raises(ScannerUnavailable, match="apt install python3-evdev"):
        WedgeSource("/dev/input/event0")
    gun = ScannerGun("evdev:auto", lambda text: None, retry_s=0.05).start()
    try:
        assert wait_for(lambda: gun.state is GunState.MISSING)
        assert "python3-evdev" in gun.problem
    finally:
        gun.close()


def test_a_gun_found_by_its_name(evdev):
    evdev.plugged.update({"/dev/input/event0", "/dev/input/event5"})
    evdev.names.update({"/dev/input/event0": "AT Translated Set 2 keyboard",
                        "/dev/input/event5": "Honeywell Imaging Scanner"})
    got: queue.SimpleQueue = queue.SimpleQueue()
    gun = ScannerGun("evdev:name=honeywell", got.put, retry_s=0.05).start()
    try:
        assert wait_for(lambda: gun.state is GunState.OK)
        evdev.type("/dev/input/event5", "SF42")
        assert got.get(timeout=2) == "SF42"
        assert evdev.devices["/dev/input/event5"].grabbed
        assert not evdev.devices["/dev/input/event0"].grabbed  # the keyboard is left alone
    finally:
        gun.close()


def test_specs():
    assert device_of("evdev:/dev/input/by-id/usb-x-event-kbd") == "/dev/input/by-id/usb-x-event-kbd"
    assert device_of("evdev:auto") == "auto"
    with pytest.raises(ValueError, match="unknown scanner"):
        device_of("/dev/input/event3")


def test_auto_picks_the_first_keyboard_by_id(tmp_path):
    for name in ("usb-Zebra-event-kbd", "usb-Honeywell-event-kbd", "usb-mouse-event-mouse"):
        (tmp_path / name).touch()
    assert find_keyboard(str(tmp_path / "*-event-kbd")).endswith("usb-Honeywell-event-kbd")
    with pytest.raises(FileNotFoundError):
        find_keyboard(str(tmp_path / "none-*"))


@pytest.fixture
def people(compound, authority):
    now = int(time.time())
    return {"pass": compound.issue_pass(ALICE_ID, "张三丰", "7", "302", now - 86400),
            "green": authority.health(ALICE_ID, Colour.GREEN, now - HOUR, now - 20 * HOUR)}


def admitted(home) -> list[str]:
    import sqlite3
    db = sqlite3.connect(home.kiosk_db)
    try:
        return [r[0] for r in db.execute("select outcome from attempts order by rowid")]
    finally:
        db.close()


def test_gun_codes_are_decided_like_the_cameras_with_a_5_s_debounce(
        home, people, evdev, kiosk_screen):
    """`kiosk run`'s own path (in-process): the gun is configured, the camera sees nothing."""
    evdev.plugged.add("/dev/input/gun")
    k = kiosk_screen(home, [phone_frame(None)] * 30, scanner="evdev:/dev/input/gun")
    assert wait_for(lambda: "/dev/input/gun" in evdev.devices, 5)
    relay = k.pins.pin(17)
    evdev.type("/dev/input/gun", people["pass"])
    evdev.type("/dev/input/gun", people["pass"])  # a second pull of the trigger: one scan
    evdev.type("/dev/input/gun", people["green"])
    assert wait_for(lambda: admitted(home) == ["admit"], 5)
    assert wait_for(lambda: len(low_pulses(relay.states[1:])) == 1, 5)
    # The same pass again within 5 s is the same scan, not a new attempt.
    evdev.type("/dev/input/gun", people["pass"])
    time.sleep(2.0)  # longer than the attempt window: a new attempt would have closed
    assert admitted(home) == ["admit"]


@pytest.mark.skipif(not os.access("/dev/uinput", os.W_OK) or not glob.glob("/dev/input"),
                    reason="no writable /dev/uinput here (H1's VM test types on a uinput "
                    "keyboard through `kiosk run`)")
def test_a_real_uinput_keyboard_is_read():
    evdev = pytest.importorskip("evdev", reason="python3-evdev is not installed")
    keys = {c: getattr(evdev.ecodes, f"KEY_{c.upper()}") for c in "abc123"}
    with evdev.UInput(name="gatehouse-test-gun") as ui:
        time.sleep(0.5)  # udev makes the device node
        got: queue.SimpleQueue = queue.SimpleQueue()
        gun = ScannerGun("evdev:name=gatehouse-test-gun", got.put).start()
        try:
            assert wait_for(lambda: gun.state is GunState.OK, 3)
            for c in "abc123":
                ui.write(evdev.ecodes.EV_KEY, keys[c], 1)
                ui.write(evdev.ecodes.EV_KEY, keys[c], 0)
            ui.write(evdev.ecodes.EV_KEY, evdev.ecodes.KEY_ENTER, 1)
            ui.write(evdev.ecodes.EV_KEY, evdev.ecodes.KEY_ENTER, 0)
            ui.syn()
            assert got.get(timeout=3) == "abc123"
        finally:
            gun.close()
