"""Frame sources play at their set rate; the grabber hands a slow consumer only fresh frames."""

import threading
import time

import numpy as np
import pytest

from kiosk.scanner.camera import (
    CameraUnavailable,
    FileSource,
    Frame,
    LatestFrame,
    PiCameraSource,
    open_source,
)


class FakeClock:
    """A clock that moves only when slept on, so pacing is checked exactly."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def folder(tmp_path):
    """Five PNG frames whose grey level tells their order (written out of order)."""
    from kiosk.scanner import camera

    for i in (3, 0, 4, 1, 2):
        camera.cv2.imwrite(str(tmp_path / f"frame{i:02d}.png"), np.full((48, 64), i * 40, np.uint8))
    return tmp_path


def test_file_source_plays_a_folder_in_order_at_the_set_fps(folder):
    clock = FakeClock()
    frames = list(FileSource(folder, fps=20, clock=clock, sleep=clock.sleep))
    assert [int(f.image[0, 0]) for f in frames] == [0, 40, 80, 120, 160]
    gaps = np.diff([f.timestamp for f in frames])
    assert gaps == pytest.approx([0.05] * 4)


def test_file_source_loops_when_asked(folder):
    clock = FakeClock()
    source = FileSource(folder, fps=10, loop=True, clock=clock, sleep=clock.sleep)
    levels = [int(source.read().image[0, 0]) for _ in range(7)]
    assert levels == [0, 40, 80, 120, 160, 0, 40]


def test_file_source_keeps_real_time(folder):
    # On its clock (the real one in use): five frames at 25 fps span 4/25 s, each
    # handed out when due. (It was timed on the real clock: a loaded machine breaks that.)
    clock = FakeClock()
    frames = list(FileSource(folder, fps=25, clock=clock, sleep=clock.sleep))
    assert len(frames) == 5
    assert [f.timestamp - frames[0].timestamp for f in frames] == pytest.approx([i / 25 for i in range(5)])
    assert clock.now - 100.0 == pytest.approx(4 / 25)


class FastCamera:
    """A 200 fps camera of 60 frames. Its own clock moves 5 ms a frame: the rate the
    grabber reports is then the camera's, not this machine's load (a loaded CI had the
    real clock say 93 fps)."""

    def __init__(self) -> None:
        self.index = 0
        self.closed = threading.Event()
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def read(self):
        if self.index >= 60:
            return None
        time.sleep(0.005)
        self.now += 0.005
        frame = Frame(np.zeros((2, 2), np.uint8), self.now, self.index)
        self.index += 1
        return frame

    def close(self) -> None:
        self.closed.set()


def test_latest_frame_drops_stale_frames_for_a_slow_consumer():
    camera = FastCamera()
    grabber = LatestFrame(camera, clock=camera.clock)
    seen = []
    for frame in grabber:
        seen.append(frame.index)
        lag = camera.index - 1 - frame.index
        assert lag <= 1  # never handed a frame from a backlog
        time.sleep(0.04)  # a decoder 8x slower than the camera
    grabber.close()
    assert seen == sorted(set(seen))
    assert len(seen) < 20 and seen[-1] == 59
    assert grabber.received == 60 and grabber.dropped == 60 - len(seen)
    assert grabber.fps == pytest.approx(200)
    assert camera.closed.is_set()


def test_open_source_parses_specs(folder):
    source = open_source(f"file:{folder}?fps=12.5&loop=1")
    assert isinstance(source, FileSource) and source.fps == 12.5 and source.loop
    with pytest.raises(ValueError, match="unknown source"):
        open_source("rtsp://camera/stream")
    with pytest.raises(FileNotFoundError):
        open_source("video:/no/such/file.mp4")


def test_picamera_without_picamera2_says_what_to_install():
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(CameraUnavailable, match="python3-picamera2"):
            PiCameraSource()
    else:
        pytest.skip("picamera2 is installed here")
