"""A running kiosk (the real `kiosk run` path, in-process) with its volunteer screen."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from demo.scenes import write_frames
from gatehouse.home import Home
from kiosk import runner
from kiosk.config import KioskConfig
from tests.processes import wait_until


@dataclass
class RunningKiosk:
    gate: object
    url: str
    stop_event: threading.Event
    thread: threading.Thread

    @property
    def pins(self):
        return self.gate.hardware.pin_factory

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(15)


@pytest.fixture
def kiosk_screen(tmp_path):
    """Start a kiosk on a home, playing `frames`; yields a starter, stops them all after."""
    running: list[RunningKiosk] = []

    def start(home: Home, frames: list, fps: int = 15, **cfg) -> RunningKiosk:
        folder = write_frames(tmp_path / f"camera{len(running)}", frames)
        config = KioskConfig(**{"camera": f"file:{folder}?fps={fps}", "pin_factory": "mock",
                                "clock": "trusted", "web_port": 0, "attempt_window_s": 1.5,
                                **cfg})
        box: dict = {}
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, args=(home, config, stop),
                                  kwargs={"started": lambda g, s: box.update(gate=g, screen=s)},
                                  daemon=True)
        thread.start()
        wait_until(lambda: "gate" in box or not thread.is_alive(), 20, message="kiosk start")
        assert "gate" in box, "the kiosk did not start"
        k = RunningKiosk(box["gate"], box["screen"].url, stop, thread)
        running.append(k)
        return k
    yield start
    for k in running:
        k.stop()
    time.sleep(0.1)
