"""Frame-to-relay latency and idle CPU of the whole gate loop at 15 fps.

Run: .venv/bin/python -m bench.gate_loop [--quick] [--people 30] [--idle-seconds 15]

--quick (10 residents, 5 s idle, pipeline and zxing: about 40 s, a minute on a Pi)
is the run for a Raspberry Pi; either way the last line is a one-line summary
(bench/summary.py) to paste back.

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

from bench.summary import Summary
from demo.scenes import phone_frame
from gatehouse.codes import Colour
from gatehouse.home import Home
from hub.authority import TestAuthority
from hub.compound import Compound
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import load_bundle
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import GateHardware, PinConfig
from kiosk.scanner import LatestFrame, make_decoder
from kiosk.scanner.camera import Frame

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
    frames: int  # frames the gate loop decoded while residents came through
    dropped: int  # frames it could not keep up with (LatestFrame kept only the newest)

    def figures(self) -> str:
        return (f"{self.admitted}/{self.expected} admitted, p50 {self.p50_ms:.1f} ms, "
                f"p99 {self.p99_ms:.1f} ms, idle CPU {self.idle_cpu * 100:.1f}%, "
                f"dropped {self.dropped}/{self.frames + self.dropped} frames")


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
    store = AttemptLog(home.kiosk_db)
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
    counts = (gate.frames, frames.dropped)
    frames.close()
    gate.close()
    store.close()
    factory.close()
    return decisions, source.captured, cpu, counts


def measure(decoder: str, people: int, idle_seconds: float) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        home, images, completes, idle = setup(Path(tmp), people)
        decisions, captured, _, counts = run_gate(home, decoder, images)
        admits = [t for t, outcome in decisions if outcome == "admit"]
        lat = []
        for frame_index in completes:
            t0 = captured.get(frame_index)
            later = [t for t in admits if t0 is not None and t >= t0]
            if later:
                lat.append((later[0] - t0) * 1000)
        lat.sort()
        idle_frames = [idle[i % len(idle)] for i in range(int(idle_seconds * FPS))]
        _, _, cpu, _ = run_gate(home, decoder, idle_frames)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    return Result(decoder, len(admits), people, statistics.median(lat) if lat else float("nan"),
                  p99, cpu, *counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="10 residents, 5 s idle, pipeline and zxing (for a Raspberry Pi)")
    parser.add_argument("--people", type=int)
    parser.add_argument("--idle-seconds", type=float)
    parser.add_argument("--decoders")
    args = parser.parse_args()
    people = args.people if args.people is not None else (10 if args.quick else 30)
    idle_seconds = args.idle_seconds if args.idle_seconds is not None else (5.0 if args.quick else 15.0)
    decoders = args.decoders or ("pipeline,zxing" if args.quick else "pipeline,zxing,pyzbar")
    summary = Summary("gate_loop", "quick" if args.quick else "full")
    cv2.setNumThreads(1)
    print(f"gate loop at {FPS:.0f} fps, {people} residents, idle {idle_seconds:.0f} s")
    print("| decoder | admitted | frame-to-relay p50 | p99 | idle CPU (one core) | frames dropped |")
    print("|---|---|---|---|---|---|")
    figures = {"run": f"{people} residents, {idle_seconds:g} s idle, {FPS:.0f} fps"}
    for name in decoders.split(","):
        r = measure(name, people, idle_seconds)
        print(f"| {r.decoder} | {r.admitted}/{r.expected} | {r.p50_ms:.1f} ms | "
              f"{r.p99_ms:.1f} ms | {r.idle_cpu * 100:.1f}% | {r.dropped}/{r.frames + r.dropped} |", flush=True)
        figures[r.decoder] = r.figures()
    summary.print(figures)


if __name__ == "__main__":
    main()
