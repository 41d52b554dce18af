"""Frame-to-relay latency and idle CPU of the whole gate loop at 15 fps.

Run: .venv/bin/python -m bench.gate_loop [--people 30] [--idle-seconds 15]

A compound in a temporary home, residents showing pass then green code to a camera
that delivers frames from memory at 15 fps (like a real camera: no file decoding in
the measurement), the real Gate on gpiozero mock pins. Latency runs from the capture
time of the first frame showing the code that completes the attempt to the moment
the relay has been switched (the decision callback runs right after unlock()).
Idle CPU: background frames with sensor noise, no one at the gate.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from gpiozero.pins.mock import MockFactory

from demo.scenes import phone_frame
from gatehouse.codes import Colour
from gatehouse.home import Home
from hub.authority import TestAuthority
from hub.compound import Compound
from kiosk.bundles import load_bundle
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import GateHardware, PinConfig
from kiosk.scanner import LatestFrame, make_decoder
from kiosk.scanner.camera import Frame
from kiosk.store import Store

FPS = 15.0
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(n: int) -> str:
    body = f"1101011980{n:07d}"[:17]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, W)) % 11]


class MemorySource:
    """Pre-rendered frames delivered at a fixed rate, as a camera would."""

    def __init__(self, images: list[np.ndarray], fps: float = FPS):
        self.images, self.fps, self.i, self.start = images, fps, 0, None
        self.captured: dict[int, float] = {}

    def read(self) -> Frame | None:
        if self.i >= len(self.images):
            return None
        now = time.monotonic()
        self.start = self.start or now
        due = self.start + self.i / self.fps
        if due > now:
            time.sleep(due - now)
        frame = Frame(self.images[self.i], time.monotonic(), self.i)
        self.captured[self.i] = frame.timestamp
        self.i += 1
        return frame

    def close(self) -> None:
        pass


@dataclass
class Result:
    decoder: str
    admitted: int
    expected: int
    p50_ms: float
    p99_ms: float
    idle_cpu: float


def background(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = phone_frame(None).astype(np.int16)
    base[:, :170] = 60  # a wall and a doorway rather than a phone
    noise = rng.normal(0, 3, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def setup(root: Path, people: int):
    home = Home.at(root)
    now = int(time.time())
    c = Compound.create(home, "bench", now - 86400)
    a = TestAuthority.create(home)
    c.trust(a.trusted_key(), now - 86400)
    images, completes = [], []
    idle = [background(i) for i in range(8)]
    for n in range(people):
        pid = id_number(n)
        p = c.issue_pass(pid, f"居民{n}", str(1 + n % 9), str(100 + n), now - 86400)
        h = a.health(pid, Colour.GREEN, now - 3600, now - 20 * 3600)
        images += [idle[i % 8] for i in range(6)] + [phone_frame(p)] * 4 + [idle[0]] * 3
        completes.append(len(images))
        images += [phone_frame(h)] * 4
    images += [idle[i % 8] for i in range(30)]
    return home, images, completes, idle


def run_gate(home: Home, decoder: str, images: list[np.ndarray]):
    factory = MockFactory()
    hardware = GateHardware(PinConfig(unlock_seconds=0.2), factory)
    store = Store(home.kiosk_db)
    decisions: list[float] = []
    config = KioskConfig(clock="trusted", decoder=decoder, cooldown_s=2.0,
                         attempt_window_s=3.0)
    gate = Gate(config=config, store=store, hardware=hardware,
                decoder=make_decoder(decoder), load_bundle=lambda: load_bundle(home),
                clock_trusted=lambda: True,
                on_decision=lambda d: decisions.append((time.monotonic(), d.outcome.value)))
    source = MemorySource(images)
    frames = LatestFrame(source)
    stop = threading.Event()
    cpu0, wall0 = time.process_time(), time.monotonic()
    thread = threading.Thread(target=gate.run, args=(frames, stop))
    thread.start()
    while source.i < len(images):
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    thread.join()
    cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    frames.close()
    gate.close()
    store.close()
    factory.close()
    return decisions, source.captured, cpu


def measure(decoder: str, people: int, idle_seconds: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        home, images, completes, idle = setup(Path(tmp), people)
        decisions, captured, _ = run_gate(home, decoder, images)
        admits = [t for t, outcome in decisions if outcome == "admit"]
        lat = []
        for frame_index in completes:
            t0 = captured.get(frame_index)
            later = [t for t in admits if t0 is not None and t >= t0]
            if later:
                lat.append((later[0] - t0) * 1000)
        lat.sort()
        idle_frames = [idle[i % len(idle)] for i in range(int(idle_seconds * FPS))]
        _, _, cpu = run_gate(home, decoder, idle_frames)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    return Result(decoder, len(admits), people, statistics.median(lat) if lat else float("nan"),
                  p99, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    parser.add_argument("--decoders", default="pipeline,zxing,pyzbar")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"gate loop at {FPS:.0f} fps, {args.people} residents, idle {args.idle_seconds:.0f} s")
    print("| decoder | admitted | frame-to-relay p50 | p99 | idle CPU (one core) |")
    print("|---|---|---|---|---|")
    for name in args.decoders.split(","):
        r = measure(name, args.people, args.idle_seconds)
        print(f"| {r.decoder} | {r.admitted}/{r.expected} | {r.p50_ms:.1f} ms | "
              f"{r.p99_ms:.1f} ms | {r.idle_cpu * 100:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
