"""Decode bench: `python -m bench.decode [--quick]` prints markdown tables, writes bench/out/.

--quick is the run for a Raspberry Pi (about a minute on a Pi 4): 640x480 frames only
(the gate's camera size), the kiosk's three decoders, no ablation or held-in-view
runs, plus the cost of a still scene. Both modes end with a one-line summary
(bench/summary.py) to paste back.
"""

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
from bench.summary import Summary
from kiosk.scanner.decoders import PyzbarDecoder, ZxingDecoder
from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions

FULL = {"qr": 30, "code128": 30, "empty": 20}
QUICK = {"qr": 6, "code128": 6, "empty": 4}
GATE_SIZE = (640, 480)

# Each row takes one stage out of the pipeline, to show what the stage buys.
ABLATION = {
    "zxing on the frame only (no attempts)": PipelineOptions(change=False, misses=False, bars=False, squares=False),
    "+ QR codes zxing located": PipelineOptions(change=False, bars=False, squares=False),
    "+ bar areas upright (no deblur)": PipelineOptions(change=False, squares=False, deblur=False),
    "+ deblur across the bars": PipelineOptions(change=False, squares=False),
    "+ module areas enlarged (no sharpening)": PipelineOptions(change=False, sharpen=False),
    "+ sharpening = pipeline": PipelineOptions(change=False),
    "pipeline, 2 attempts a frame": PipelineOptions(change=False, attempts_per_frame=2),
    "pipeline, 5 attempts a frame": PipelineOptions(change=False, attempts_per_frame=5),
}
HELD = {
    "zxing": ZxingDecoder,
    "pipeline, 1 attempt a frame": lambda: PipelineDecoder(PipelineOptions(attempts_per_frame=1)),
    "pipeline": PipelineDecoder,
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


def _figures(outcomes: list[measure.Outcome], decoders: list[str], size: str) -> dict[str, str]:
    """Per decoder at one size, all difficulties pooled: reads, false reads, ms per frame."""
    out = {}
    for name in decoders:
        mine = [o for o in outcomes if o.decoder == name and o.size == size]
        if not mine:
            continue
        reads = {k: (sum(o.read for o in mine if o.kind == k), sum(o.kind == k for o in mine))
                 for k in ("qr", "code128")}
        ms = [o.ms for o in mine]
        empty = [o.ms for o in mine if o.kind == "empty"]
        out[name] = (f"QR {reads['qr'][0]}/{reads['qr'][1]}, C128 {reads['code128'][0]}/{reads['code128'][1]}, "
                     f"false {sum(bool(o.false_reads) for o in mine)}, median {measure.percentile(ms, 50):.2f} ms, "
                     f"p95 {measure.percentile(ms, 95):.2f} ms, empty median {measure.percentile(empty, 50):.2f} ms")
    return out


def _write(out: Path, text: str, outcomes: list[measure.Outcome]) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "decode-results.md").write_text(text + "\n")
        with (out / "decode-outcomes.json").open("w") as f:
            json.dump([asdict(o) for o in outcomes], f)
    except OSError as e:  # e.g. /opt/gatehouse on a gate is root's: the summary line is what counts
        print(f"(results not written to {out}: {e}; give --out DIR)")


def main() -> None:
    """Generate the data set, run every decoder, print and save the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="for a Raspberry Pi: 640x480 only, 48 frames, the kiosk's decoders (~10 s here)")
    parser.add_argument("--seed", type=int, default=20220401)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--no-extras", action="store_true", help="skip ablation and held-in-view runs")
    parser.add_argument("--save-frames", action="store_true", help="write the frames as JPEG too")
    args = parser.parse_args()
    summary = Summary("decode", "quick" if args.quick else "full")

    # One core, as on the Pi budget we plan for: no OpenCV worker threads.
    cv2.setNumThreads(1)
    counts = QUICK if args.quick else FULL
    sizes = (GATE_SIZE,) if args.quick else scenes.SIZES
    started = time.perf_counter()
    cases = list(scenes.cases(args.seed, counts, sizes))
    generated = time.perf_counter() - started
    if args.save_frames:
        (args.out / "frames").mkdir(parents=True, exist_ok=True)
        for case in cases:
            cv2.imwrite(str(args.out / "frames" / f"{case.name}.jpg"), case.image)

    decoders = {"pipeline": PipelineDecoder(), "zxing": ZxingDecoder(), "pyzbar": PyzbarDecoder()}
    if not args.quick:
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
        "### Read rate by condition (all sizes and difficulties)",
        "",
        _tag_table(outcomes, names),
    ]
    false = [o for o in outcomes if o.false_reads]
    report += ["", f"False reads: {len(false)}"] + [f"- {o.decoder} {o.case}: {o.false_reads}" for o in false]
    specs = scenes.specs(args.seed, counts)
    empties = [s for s in specs if s.kind == "empty"]

    if not (args.no_extras or args.quick):
        small = [c for c in cases if c.size == GATE_SIZE]
        variants = {name: PipelineDecoder(opts) for name, opts in ABLATION.items()}
        ablation = measure.run(small, variants)
        report += ["", "### What each pipeline stage buys", "", _ablation_table(
            measure.table(ablation, lambda o: (o.decoder, o.difficulty)), list(ABLATION))]

        hard = [s for s in specs if s.difficulty != "easy" and s.kind != "empty"]
        shots = 8
        firsts = measure.held_in_view(hard, GATE_SIZE, HELD, shots)
        report += ["", f"### Medium and hard codes held in view for {shots} frames (640x480, fresh sensor noise per frame)", ""]
        report += ["| decoder | read on frame 1 | by frame 3 | by frame 8 |", "|---|---|---|---|"]
        for name, hits in firsts.items():
            within = [sum(h is not None and h < k for h in hits) for k in (1, 3, shots)]
            report.append(f"| {name} | " + " | ".join(_pct((w, len(hits))) for w in within) + " |")

    still = measure.static_cost(empties, GATE_SIZE, PipelineDecoder(), shots=4 if args.quick else 5)
    last = 4 if args.quick else 5
    report += [
        "",
        f"Pipeline on a still empty scene (640x480, frames 2-{last} of {len(empties)} scenes): "
        f"median {measure.percentile(still, 50):.2f} ms, p95 {measure.percentile(still, 95):.2f} ms.",
    ]

    elapsed = time.perf_counter() - started
    report += ["", f"Total bench time: {elapsed:.0f} s."]
    text = "\n".join(report)
    print(text)
    _write(args.out, text, outcomes)
    figures = _figures(outcomes, names[:3], f"{GATE_SIZE[0]}x{GATE_SIZE[1]}")
    figures["still scene"] = (f"median {measure.percentile(still, 50):.2f} ms, "
                              f"p95 {measure.percentile(still, 95):.2f} ms")
    figures["frames"] = f"{len(cases)} (seed {args.seed}, {elapsed:.0f} s)"
    summary.print(figures)


if __name__ == "__main__":
    main()
