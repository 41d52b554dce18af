"""A missing or unplugged camera: retried until it delivers, never an exception out of the
gate's frame reader; the ribbon camera's import failures say why; fps is the recent rate."""
from __future__ import annotations

import sys
import threading
import time
import types

import numpy as np
import pytest

from kiosk.scanner.camera import CameraUnavailable, Frame, LatestFrame, PiCameraSource
from kiosk.scanner.reconnect import CameraState, ReconnectingSource


class Device:
    """A camera that delivers `frames` frames, then fails the way `then` says."""

    def __init__(self, frames: int, then: str = "none"):
        self.left, self.then, self.closed = frames, then, False

    def read(self):
        if self.left == 0:
            if self.then == "raise":
                raise OSError("VIDIOC_DQBUF: No such device")
            return None
        self.left -= 1
        return Frame(np.zeros((2, 2), np.uint8), time.monotonic(), 0)

    def close(self):
        self.closed = True


class Plug:
    """The opener: fails while unplugged, else hands out the next Device."""

    def __init__(self, *devices: Device):
        self.devices = list(devices)
        self.opened: list[Device] = []
        self.attempts = 0

    def __call__(self, spec: str) -> Device:
        self.attempts += 1
        if not self.devices or self.devices[0] is None:
            if self.devices:
                self.devices.pop(0)
            raise OSError(f"cannot open camera {spec!r}")
        self.opened.append(self.devices.pop(0))
        return self.opened[-1]


def test_a_missing_camera_is_retried_until_it_appears():
    states = []
    plug = Plug(None, None, Device(2))
    source = ReconnectingSource("v4l2:0", opener=plug, retry_s=0.01,
                                on_state=lambda s, p: states.append((s, p)))
    assert source.read() is not None
    assert plug.attempts == 3
    assert states[0] == (CameraState.MISSING, "OSError: cannot open camera 'v4l2:0'")
    assert states[-1] == (CameraState.OK, None)
    source.close()


@pytest.mark.parametrize("then", ["none", "raise"])
def test_an_unplugged_camera_is_closed_and_opened_again(then):
    first, second = Device(1, then=then), Device(1)
    plug = Plug(first, None, second)
    source = ReconnectingSource("v4l2:0", opener=plug, retry_s=0.01)
    assert source.read() is not None and source.read() is not None
    assert first.closed and plug.opened == [first, second]
    source.close()
    assert second.closed


def test_a_file_camera_that_ends_has_ended():
    source = ReconnectingSource("file:/frames", opener=Plug(Device(1)), retry_s=0.01)
    assert source.read() is not None
    assert source.read() is None and source.state is CameraState.ENDED


def test_a_typo_in_the_spec_fails_at_once():
    with pytest.raises(ValueError, match="unknown camera"):
        ReconnectingSource("v4l3:0")


def test_closing_the_frame_reader_stops_the_waiting_at_once():
    source = ReconnectingSource("v4l2:0", opener=Plug(), retry_s=60)
    frames = LatestFrame(source)
    time.sleep(0.05)
    started = time.monotonic()
    frames.close()
    # Not the 60 s retry (a bound far above any machine's load, not a timing).
    assert time.monotonic() - started < 30
    assert frames.read(timeout=0) is None


def test_fps_is_the_recent_rate_and_zero_once_the_camera_stalls():
    clock = [100.0]
    delivered = threading.Semaphore(0)
    stalled = threading.Event()

    class Paced:
        def __init__(self):
            self.n = 0

        def read(self):
            if self.n == 30:
                stalled.wait()
                return None
            self.n += 1
            clock[0] += 0.1  # 10 frames a second on the fake clock
            delivered.release()
            return Frame(np.zeros((2, 2), np.uint8), clock[0], self.n)

        def close(self):
            stalled.set()

    frames = LatestFrame(Paced(), clock=lambda: clock[0])
    for _ in range(30):
        assert delivered.acquire(timeout=2)
    time.sleep(0.05)
    assert frames.fps == pytest.approx(10, rel=0.05)
    clock[0] += 2.0  # two seconds without a frame: the rate falls
    assert frames.fps < 7
    clock[0] += 4.0  # past the window: a stalled camera shows 0
    assert frames.fps == 0.0
    frames.close()


@pytest.mark.parametrize("error", [
    ImportError("numpy.core.multiarray failed to import"),
    AttributeError("_ARRAY_API not found"),
    RuntimeError("module compiled against ABI version 0x1000009 but this version of "
                 "numpy is 0x2000000"),
    ValueError("numpy.dtype size changed, may indicate binary incompatibility"),
])
def test_picamera2_built_for_numpy_1_says_why_it_cannot_load(monkeypatch, error):
    class Broken:
        """Importing picamera2 fails the way a numpy-1 build fails under numpy 2."""

        def find_spec(self, name, path=None, target=None):
            if name == "picamera2":
                raise error
            return None

    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    with pytest.raises(CameraUnavailable) as failed:
        PiCameraSource()
    text = str(failed.value)
    assert "numpy" in text and "v4l2:" in text and type(error).__name__ in text


def test_picamera2_missing_one_of_its_own_imports_says_which(monkeypatch):
    class Broken:
        def find_spec(self, name, path=None, target=None):
            if name == "picamera2":
                raise ModuleNotFoundError("No module named 'simplejpeg'", name="simplejpeg")
            return None

    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    with pytest.raises(CameraUnavailable, match="picamera2 cannot be loaded.*simplejpeg"):
        PiCameraSource()


def test_picamera2_without_a_camera_on_the_ribbon(monkeypatch):
    class Picamera2:
        def __init__(self):
            raise IndexError("list index out of range")

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=Picamera2))
    with pytest.raises(CameraUnavailable, match="no Raspberry Pi camera found"):
        PiCameraSource()
