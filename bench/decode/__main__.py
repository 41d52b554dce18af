"""Decode bench: `python -m bench.decode [--quick]` prints markdown tables, writes bench/out/."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import cv2

from bench.decode import baselines, measure, scenes
from kiosk.scanner.decoders import PyzbarDecoder, ZxingDecoder
from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions

FULL = {"qr": 30, "code128": 30, "empty": 20}
QUICK = {"qr": 8, "code128": 8, "empty": 6}

# Each row adds one stage to the one before, to show what the stage buys.
ABLATION = {
    "zxing on ink grey (darkest channel)": PipelineOptions(ink=True, change=False, retries=False, pyzbar=False),
    "zxing on luma": PipelineOptions(change=False, retries=False, pyzbar=False),
    "+ crop retries where zxing located a code": PipelineOptions(regions=False, pyzbar=False),
    "+ ZBar second opinion": PipelineOptions(regions=False),
    "+ code-like regions (0 on a first frame) = pipeline": PipelineOptions(),
    "pipeline, 1 region retry on a first frame": PipelineOptions(first_frame_weak_retries=1),
    "pipeline, 3 region retries on a first frame": PipelineOptions(first_frame_weak_retries=3),
    "pipeline, primary tries 90-degree rotation": PipelineOptions(primary_rotate=True),
    "pipeline on ink grey": PipelineOptions(ink=True),
}
HELD = {
    "zxing": ZxingDecoder,
    "pipeline without region retries": lambda: PipelineDecoder(PipelineOptions(regions=False)),
    "pipeline": PipelineDecoder,
    "pipeline, 1 region retry on a first frame": lambda: PipelineDecoder(
        PipelineOptions(first_frame_weak_retries=1)
    ),
}


def _pct(hit: tuple[int, int]) -> str:
    n, total = hit
    return f"{100 * n / total:.0f}% ({n}/{total})" if total else "-"


def _main_table(rows: dict[tuple, dict], decoders: list[str]) -> str:
    lines = [
        "| decoder | size | difficulty | QR read | Code128 read | false reads | median ms | p95 ms | empty-frame median ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(rows, key=lambda k: (decoders.index(k[0]), k[1], scenes.DIFFICULTIES.index(k[2]))):
        r = rows[key]
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {_pct(r['qr'])} | {_pct(r['code128'])} | "
            f"{r['false']} | {r['median']:.2f} | {r['p95']:.2f} | {r['empty_median']:.2f} |"
        )
    return "\n".join(lines)


def _tag_table(outcomes: list[measure.Outcome], decoders: list[str]) -> str:
    tags = sorted({t for o in outcomes for t in o.tags})
    lines = ["| decoder | " + " | ".join(tags) + " |", "|---" * (len(tags) + 1) + "|"]
    for name in decoders:
        cells = []
        for tag in tags:
            hit = [o for o in outcomes if o.decoder == name and tag in o.tags and o.kind != "empty"]
            cells.append(_pct((sum(o.read for o in hit), len(hit))))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ablation_table(rows: dict[tuple, dict], names: list[str]) -> str:
    lines = [
        "| variant (640x480) | QR med | QR hard | C128 med | C128 hard | easy all | false | median ms | p95 ms | empty ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        by = {k[1]: r for k, r in rows.items() if k[0] == name}
        easy = by["easy"]
        easy_hit = (easy["qr"][0] + easy["code128"][0], easy["qr"][1] + easy["code128"][1])
        allrows = [by[d] for d in scenes.DIFFICULTIES]
        false = sum(r["false"] for r in allrows)
        lines.append(
            f"| {name} | {_pct(by['medium']['qr'])} | {_pct(by['hard']['qr'])} | "
            f"{_pct(by['medium']['code128'])} | {_pct(by['hard']['code128'])} | {_pct(easy_hit)} | {false} | "
            f"{max(r['median'] for r in allrows):.2f} | {max(r['p95'] for r in allrows):.2f} | "
            f"{max(r['empty_median'] for r in allrows):.2f} |"
        )
    return "\n".join(lines) + "\n\n(median/p95/empty ms: the worst of the three difficulties)"


def main() -> None:
    """Generate the data set, run every decoder, print and save the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data set (~30 s)")
    parser.add_argument("--seed", type=int, default=20220401)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--no-extras", action="store_true", help="skip ablation and held-in-view runs")
    parser.add_argument("--save-frames", action="store_true", help="write the frames as JPEG too")
    args = parser.parse_args()

    # One core, as on the Pi budget we plan for: no OpenCV worker threads.
    cv2.setNumThreads(1)
    counts = QUICK if args.quick else FULL
    started = time.perf_counter()
    cases = list(scenes.cases(args.seed, counts))
    generated = time.perf_counter() - started
    if args.save_frames:
        (args.out / "frames").mkdir(parents=True, exist_ok=True)
        for case in cases:
            cv2.imwrite(str(args.out / "frames" / f"{case.name}.jpg"), case.image)

    decoders = {"pipeline": PipelineDecoder(), "zxing": ZxingDecoder(), "pyzbar": PyzbarDecoder()}
    decoders.update(baselines.available())
    outcomes = measure.run(cases, decoders)
    names = list(decoders)
    rows = measure.table(outcomes, lambda o: (o.decoder, o.size, o.difficulty))
    report = [
        f"## Decode bench ({'quick' if args.quick else 'full'}, seed {args.seed})",
        "",
        f"Frames: {len(cases)} ({counts} per difficulty and size); generated in {generated:.0f} s.",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}, cv2.setNumThreads(1), "
        "decoders run one at a time on one thread.",
        "",
        _main_table(rows, names),
        "",
        "### Read rate by condition (both sizes, all difficulties)",
        "",
        _tag_table(outcomes, names),
    ]
    false = [o for o in outcomes if o.false_reads]
    report += ["", f"False reads: {len(false)}"] + [f"- {o.decoder} {o.case}: {o.false_reads}" for o in false]

    if not args.no_extras:
        small = [c for c in cases if c.size == (640, 480)]
        variants = {name: PipelineDecoder(opts) for name, opts in ABLATION.items()}
        ablation = measure.run(small, variants)
        report += ["", "### What each pipeline stage buys", "", _ablation_table(
            measure.table(ablation, lambda o: (o.decoder, o.difficulty)), list(ABLATION))]

        specs = scenes.specs(args.seed, counts)
        hard = [s for s in specs if s.difficulty != "easy" and s.kind != "empty"]
        shots = 8
        firsts = measure.held_in_view(hard, (640, 480), HELD, shots)
        report += ["", f"### Medium and hard codes held in view for {shots} frames (640x480, fresh sensor noise per frame)", ""]
        report += ["| decoder | read on frame 1 | by frame 3 | by frame 8 |", "|---|---|---|---|"]
        for name, hits in firsts.items():
            within = [sum(h is not None and h < k for h in hits) for k in (1, 3, shots)]
            report.append(f"| {name} | " + " | ".join(_pct((w, len(hits))) for w in within) + " |")

        empties = [s for s in specs if s.kind == "empty"]
        still = measure.static_cost(empties, (640, 480), PipelineDecoder())
        report += [
            "",
            f"Pipeline on a still empty scene (640x480, frames 2-5 of {len(empties)} scenes): "
            f"median {measure.percentile(still, 50):.2f} ms, p95 {measure.percentile(still, 95):.2f} ms.",
        ]

    report += ["", f"Total bench time: {time.perf_counter() - started:.0f} s."]
    text = "\n".join(report)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decode-results.md").write_text(text + "\n")
    with (args.out / "decode-outcomes.json").open("w") as f:
        json.dump([asdict(o) for o in outcomes], f)


if __name__ == "__main__":
    main()
