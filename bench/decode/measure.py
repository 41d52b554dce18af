"""Run decoders over bench frames and score them: reads, false reads, time per frame."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

from bench.decode.scenes import Case, Spec, render
from kiosk.scanner.decoders import Decoder


@dataclass(frozen=True)
class Outcome:
    """What one decoder did with one frame."""

    decoder: str
    case: str
    size: str
    difficulty: str
    kind: str
    tags: tuple[str, ...]
    read: bool
    false_reads: tuple[str, ...]
    ms: float


def _reset(decoder: Decoder) -> None:
    # Bench frames are unrelated scenes: a stateful decoder must not carry one into the next.
    reset = getattr(decoder, "reset", None)
    if reset is not None:
        reset()


def score(decoder: Decoder, image: np.ndarray, truth: str | None) -> tuple[bool, tuple[str, ...], float]:
    """Decode one frame; return (read the truth, texts that are not the truth, milliseconds)."""
    start = time.perf_counter()
    symbols = decoder.decode(image)
    ms = (time.perf_counter() - start) * 1000
    texts = {s.text for s in symbols}
    return truth in texts, tuple(sorted(t for t in texts if t != truth)), ms


def run(cases: Iterable[Case], decoders: Mapping[str, Decoder]) -> list[Outcome]:
    """Decode every case with every decoder, interleaved so background load hits all alike."""
    outcomes = []
    warmed: set[str] = set()
    for case in cases:
        for name, decoder in decoders.items():
            if name not in warmed:  # first call pays for lazy set-up inside the libraries
                decoder.decode(case.image)
                warmed.add(name)
            _reset(decoder)
            read, false, ms = score(decoder, case.image, case.spec.truth)
            outcomes.append(
                Outcome(
                    name,
                    case.name,
                    f"{case.size[0]}x{case.size[1]}",
                    case.spec.difficulty,
                    case.spec.kind,
                    case.spec.tags,
                    read,
                    false,
                    ms,
                )
            )
    return outcomes


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of the values, 0 for none."""
    return float(np.percentile(values, q)) if values else 0.0


def table(outcomes: list[Outcome], by: Callable[[Outcome], tuple]) -> dict[tuple, dict]:
    """Group outcomes and return QR / Code128 read rates, false reads and frame times per group."""
    groups: dict[tuple, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[by(o)].append(o)
    rows = {}
    for key, items in groups.items():
        row: dict = {"frames": len(items)}
        for kind in ("qr", "code128"):
            of_kind = [o for o in items if o.kind == kind]
            row[kind] = (sum(o.read for o in of_kind), len(of_kind))
        row["false"] = sum(bool(o.false_reads) for o in items)
        ms = [o.ms for o in items]
        row["median"], row["p95"] = percentile(ms, 50), percentile(ms, 95)
        empty = [o.ms for o in items if o.kind == "empty"]
        row["empty_median"] = percentile(empty, 50)
        rows[key] = row
    return rows


def held_in_view(
    specs: list[Spec], size: tuple[int, int], factories: Mapping[str, Callable[[], Decoder]], shots: int
) -> dict[str, list[int | None]]:
    """Show each scene for `shots` frames (fresh sensor noise each); return the first read frame."""
    first: dict[str, list[int | None]] = {name: [] for name in factories}
    for spec in specs:
        frames = [render(spec, size, shot) for shot in range(shots)]
        for name, factory in factories.items():
            decoder = factory()
            hit = None
            for i, frame in enumerate(frames):
                read, _, _ = score(decoder, frame, spec.truth)
                if read:
                    hit = i
                    break
            first[name].append(hit)
    return first


def static_cost(specs: list[Spec], size: tuple[int, int], decoder: Decoder, shots: int = 5) -> list[float]:
    """Return ms per frame for a still scene after its first frame (what a camera at rest costs)."""
    costs = []
    for spec in specs:
        _reset(decoder)
        for shot in range(shots):
            _, _, ms = score(decoder, render(spec, size, shot), spec.truth)
            if shot:
                costs.append(ms)
    return costs
