"""Frame sources (image folder, video file, V4L2 camera, Pi camera) and the newest-frame grabber."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

FPS_WINDOW_S = 5.0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class Frame:
    """One camera frame: BGR (or grey) pixels, capture time on the monotonic clock, number."""

    image: np.ndarray
    timestamp: float
    index: int


class FrameSource(Protocol):
    """Anything that hands out frames until it runs dry."""

    def read(self) -> Frame | None:
        """Return the next frame, or None when the source has ended."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...


class _Source:
    """Iteration and `with` support shared by the concrete sources."""

    def read(self) -> Frame | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileSource(_Source):
    """Plays a folder of images (sorted by name) or a video file at a set frame rate.

    >>> with FileSource("bench/out/frames", fps=15, loop=True) as source:  # doctest: +SKIP
    ...     frame = source.read()
    """

    def __init__(
        self,
        path: str | Path,
        fps: float = 15.0,
        loop: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.path = Path(path)
        self.fps, self.loop = fps, loop
        self._clock, self._sleep = clock, sleep
        self._files: list[Path] = []
        self._video: cv2.VideoCapture | None = None
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise FileNotFoundError(f"no images in {self.path}")
        elif self.path.is_file():
            self._video = cv2.VideoCapture(str(self.path))
            if not self._video.isOpened():
                raise OSError(f"cannot open video {self.path}")
        else:
            raise FileNotFoundError(self.path)
        self._position = 0
        self._index = 0
        self._start: float | None = None

    def read(self) -> Frame | None:
        """Return the next frame once it is due at the set fps, or None at the end."""
        image = self._next_image()
        if image is None:
            return None
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + self._index / self.fps
        if due > now:
            self._sleep(due - now)
            now = self._clock()
        frame = Frame(image, now, self._index)
        self._index += 1
        return frame

    def _next_image(self) -> np.ndarray | None:
        if self._video is not None:
            ok, image = self._video.read()
            if not ok and self.loop and self._index > 0:
                self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, image = self._video.read()
            return image if ok else None
        if self._position >= len(self._files):
            if not self.loop:
                return None
            self._position = 0
        path = self._files[self._position]
        self._position += 1
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise OSError(f"cannot read image {path}")
        if image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        return image

    def close(self) -> None:
        """Release the video file, if any."""
        if self._video is not None:
            self._video.release()


class OpenCVSource(_Source):
    """A USB or V4L2 camera by index (0) or device path (/dev/video0) through OpenCV."""

    def __init__(
        self,
        device: int | str = 0,
        width: int = 640,
        height: int = 480,
        fps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not self._capture.isOpened():
            self._capture = cv2.VideoCapture(device)
        if not self._capture.isOpened():
            raise OSError(f"cannot open camera {device!r}")
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self._capture.set(cv2.CAP_PROP_FPS, fps)
        # A deep driver queue hands out old frames; the newest is what the gate needs.
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._index = 0

    def read(self) -> Frame | None:
        """Return the next frame from the camera, or None if it stopped delivering."""
        ok, image = self._capture.read()
        if not ok:
            return None
        frame = Frame(image, self._clock(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        """Release the camera."""
        self._capture.release()


class CameraUnavailable(OSError):
    """The camera cannot be used here; the text says why and what to do."""


def _import_picamera2():
    """picamera2's class, or CameraUnavailable saying why the ribbon camera cannot be used."""
    try:
        from picamera2 import Picamera2  # type: ignore[import-not-found]
    except ModuleNotFoundError as error:
        if error.name != "picamera2":  # picamera2 is there; one of its imports is not
            raise CameraUnavailable(f"picamera2 cannot be loaded: {error}; install what it "
                                    "needs from apt (python3-picamera2 pulls it in), or use a "
                                    "v4l2: camera") from error
        raise CameraUnavailable(
            f"picamera2 is not installed ({error}): on Raspberry Pi OS run 'sudo apt install "
            "python3-picamera2' and create the venv with --system-site-packages, or use a "
            "v4l2: camera") from error
    # apt's picamera2 and simplejpeg are built against Bookworm's numpy 1.24; under numpy 2
    # they fail as ImportError, AttributeError (_ARRAY_API not found), RuntimeError or
    # ValueError (dtype size changed), depending on which module trips first.
    except (ImportError, AttributeError, RuntimeError, ValueError) as error:
        raise CameraUnavailable(
            f"picamera2 is installed but cannot be loaded with numpy {np.__version__} "
            f"({type(error).__name__}: {error}); Raspberry Pi OS builds it against numpy 1.x, "
            "so the gate needs numpy < 2 (install from deploy/requirements/gate.txt), "
            "or use a v4l2: camera") from error
    return Picamera2


class PiCameraSource(_Source):
    """The Raspberry Pi camera through picamera2 (apt install python3-picamera2)."""

    def __init__(
        self, width: int = 640, height: int = 480, clock: Callable[[], float] = time.monotonic
    ) -> None:
        Picamera2 = _import_picamera2()
        self._clock = clock
        try:
            self._camera = Picamera2()
        except Exception as error:  # no camera on the ribbon: IndexError, RuntimeError
            raise CameraUnavailable(f"no Raspberry Pi camera found ({type(error).__name__}: "
                                    f"{error}); check the ribbon cable") from error
        # picamera2's "RGB888" is stored B, G, R in memory: the order OpenCV and `ink` expect.
        config = self._camera.create_video_configuration(
            main={"size": (width, height), "format": "RGB888"}, buffer_count=2
        )
        self._camera.configure(config)
        self._camera.start()
        self._index = 0

    def read(self) -> Frame | None:
        """Return the next frame from the camera."""
        image = self._camera.capture_array("main")
        frame = Frame(image, self._clock(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        """Stop and release the camera."""
        self._camera.stop()
        self._camera.close()


class LatestFrame(_Source):
    """Reads a source on its own thread and keeps only the newest frame.

    A consumer slower than the camera gets the newest frame each time, never a queue of
    stale ones, so its lag stays one frame plus its own work. `dropped` counts the frames
    it never saw; `fps` is the rate the source delivered over the last FPS_WINDOW_S
    seconds, so a camera that stalls reads 0 within that time.
    """

    def __init__(self, source: FrameSource, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self._clock = clock
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._taken = True
        self._ended = False
        self._nudged = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self.received = 0
        self.dropped = 0
        self._times: deque[float] = deque()  # arrival times within the fps window
        self._thread = threading.Thread(target=self._grab, name="latest-frame", daemon=True)
        self._thread.start()

    @property
    def fps(self) -> float:
        """Return the rate at which the source delivered frames over the last few seconds."""
        now = self._clock()
        with self._cond:
            self._forget_before(now - FPS_WINDOW_S)
            if len(self._times) < 2:
                return 0.0
            span = now - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def _forget_before(self, start: float) -> None:
        while self._times and self._times[0] < start:
            self._times.popleft()

    def _grab(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                now = self._clock()
                with self._cond:
                    if not self._taken:
                        self.dropped += 1
                    self._latest, self._taken = frame, False
                    self.received += 1
                    self._times.append(now)
                    self._forget_before(now - FPS_WINDOW_S)
                    self._cond.notify_all()
        except BaseException as error:  # handed to the consumer, which is the one who can act
            self._error = error
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def nudge(self) -> None:
        """Wake a consumer waiting in `read` now (it gets None): a tap on the screen should
        not wait for the next frame."""
        with self._cond:
            self._nudged = True
            self._cond.notify_all()

    def read(self, timeout: float | None = None) -> Frame | None:
        """Return the newest frame not yet returned; None when the source ended or on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: not self._taken or self._ended or self._nudged, timeout)
            if self._nudged and self._taken and not self._ended:
                self._nudged = False
                return None
            if self._error is not None:
                raise RuntimeError("frame source failed") from self._error
            if self._taken:
                return None
            self._taken = True
            return self._latest

    def close(self) -> None:
        """Stop the grabber thread and close the source."""
        self._stop.set()
        interrupt = getattr(self.source, "interrupt", None)
        if interrupt is not None:  # a source waiting to reopen a camera stops waiting
            interrupt()
        self._thread.join(timeout=2.0)
        self.source.close()


def open_source(spec: str) -> _Source:
    """Open a source from a spec: file:DIR, video:FILE (?fps=&loop=), v4l2:0 (?width=&height=&fps=), picamera2."""
    parts = urlsplit(spec)
    scheme = parts.scheme or spec
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme in ("file", "video"):
        if not parts.path:
            raise ValueError(f"{spec!r}: give a path, e.g. file:/srv/frames?fps=15")
        return FileSource(
            parts.path, fps=float(query.get("fps", 15)), loop=query.get("loop", "0") in ("1", "true", "yes")
        )
    width, height = int(query.get("width", 640)), int(query.get("height", 480))
    if scheme == "v4l2":
        device: int | str = int(parts.path) if parts.path.isdigit() else parts.path
        fps = float(query["fps"]) if "fps" in query else None
        return OpenCVSource(device if device != "" else 0, width, height, fps)
    if scheme == "picamera2":
        return PiCameraSource(width, height)
    raise ValueError(f"unknown source {spec!r}; expected file:, video:, v4l2: or picamera2")


def read_image(path: str | Path) -> np.ndarray | None:
    """One image file as pixels (for `kiosk scan`), or None when it is not an image."""
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
