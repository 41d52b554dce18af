"""What the held frames hold at best: `python -m bench.decode.bound [--seed N] [--frames K]`.

For each medium and hard QR code of the bench held in view, the pipeline reads its frames as
the gate would; then the bound reads the same frames told where the code is: the renderer's
own corners of the module grid on every frame (no locator can do better), each module
sampled at its true centre, the frames combined by local contrast, the least reliable
codewords erased and corrected (kiosk/scanner/qr_grid.py and qr_repair.py, the gate's own
sampler and Reed-Solomon decoder). A code the bound reads is in the frames and a better
locator could read it; one it cannot read is lost to this sampler on these frames, whatever
finds the code. Prints per condition the codes each reads and which.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import segno

from bench.decode import hand, scenes
from kiosk.scanner import preprocess as pp
from kiosk.scanner import qr_grid, qr_repair
from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions
from kiosk.scanner.readers import read_clean_qr

BORDER = 4  # modules of quiet zone in the renderer's grid (scenes._phone)


def symbol_corners(placed: np.ndarray, n: int) -> np.ndarray:
    """The symbol's outer corners from the renderer's grid with its quiet zone."""
    total = n + 2 * BORDER
    square = np.float32([[0, 0], [total, 0], [total, total], [0, total]])
    hom = cv2.getPerspectiveTransform(square, np.float32(placed))
    inner = np.float32([[BORDER, BORDER], [BORDER + n, BORDER], [BORDER + n, BORDER + n],
                        [BORDER, BORDER + n]])[None]
    return cv2.perspectiveTransform(inner, hom)[0]


def bound_reads(spec: scenes.Spec, frames: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether the frames, told where the code is, give its text."""
    version = (segno.make_qr(spec.truth, error="m", boost_error=False).version)
    n = qr_repair.size(version)
    samples = [qr_grid.levelled(pp.luma(f), symbol_corners(placed, n), version, refit=False)
               for f, placed in frames]
    for k in range(1, len(samples) + 1):  # by frame k, as the gate would have them
        dark, reliability = qr_grid.decide(samples[:k])
        fixed = qr_repair.repair(dark, reliability)
        if fixed is not None and read_clean_qr(fixed) == spec.truth:
            return True
    return False


def main() -> None:
    """Count, per condition, the held QR codes the pipeline reads and the bound reads."""
    parser = argparse.ArgumentParser(prog="python -m bench.decode.bound", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20220401)
    parser.add_argument("--frames", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    size = (640, 480)
    codes = [s for s in scenes.specs(args.seed, scenes.FULL_COUNTS)
             if s.difficulty != "easy" and s.kind == "qr"]
    decoder = PipelineDecoder(PipelineOptions(deadline_ms=float("inf")))
    for name, move in (("glare moving with the code", hand.held),
                       ("glare of a fixed lamp", hand.held_under_lamp)):
        gate, bound = set(), set()
        for i, spec in enumerate(codes):
            frames = [scenes.render_placed(move(spec, k), size, k) for k in range(args.frames)]
            decoder.reset()
            if any(spec.truth in {s.text for s in decoder.decode(f)} for f, _ in frames):
                gate.add(i)
            if bound_reads(spec, frames):
                bound.add(i)
        print(f"{name}, seed {args.seed}, {len(codes)} QR codes (medium + hard), {args.frames} frames: "
              f"pipeline {len(gate)}, bound {len(bound)}, either {len(gate | bound)}; "
              f"bound only {sorted(bound - gate)}, pipeline only {sorted(gate - bound)}", flush=True)


if __name__ == "__main__":
    main()
