"""What keeps hard codes unread: `python -m bench.decode.limits [--seed N] [--out DIR]`.

Renders the hard level's codes again with one condition taken away at a time (glare, low
light, blur, sensor noise, JPEG, moire, or modules 1.5x larger, as a closer code or a
sharper camera would give) and counts what the pipeline reads on a single frame. Writes,
for a few codes read only without glare, the frame as shown and as it would be without
glare, side by side, to DIR/limits/ (PNG), and one glared code held for 3 frames both ways
the bench holds it: the glare moving with the code, and the glare of a lamp fixed to the
gate (`hand.held_under_lamp`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from bench.decode import hand, scenes
from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions

CHANGES: dict[str, dict] = {
    "as rendered": {},
    "no glare": {"glare": 0.0},
    "no low light": {"low_light": 1.0},
    "no glare, no low light": {"glare": 0.0, "low_light": 1.0},
    "less blur (0.5 px)": {"blur": 0.5},
    "no sensor noise": {"noise": 0.0},
    "JPEG quality 95": {"jpeg": 95},
    "no moire": {"moire": 0.0},
    "modules 1.5x larger": {"module_px": None},
}


def _change(spec: scenes.Spec, change: dict) -> scenes.Spec:
    if "module_px" in change:
        return scenes.variant(spec, module_px=spec.module_px * 1.5)
    return scenes.variant(spec, **change)


def main() -> None:
    """Count the pipeline's single-frame reads of hard codes with each condition taken away."""
    parser = argparse.ArgumentParser(prog="python -m bench.decode.limits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20220401)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    cv2.setNumThreads(1)
    size = (640, 480)
    # The same scenes as the bench's hard level (its empty frames too are drawn, then dropped).
    hard = [s for s in scenes.specs(args.seed, scenes.FULL_COUNTS) if s.difficulty == "hard" and s.kind != "empty"]
    decoder = PipelineDecoder(PipelineOptions(deadline_ms=float("inf")))
    read: dict[str, dict[int, bool]] = {}
    for name, change in CHANGES.items():
        read[name] = {}
        for i, spec in enumerate(hard):
            decoder.reset()
            symbols = decoder.decode(scenes.render(_change(spec, change), size))
            read[name][i] = spec.truth in {s.text for s in symbols}
    lines = [f"Hard level, seed {args.seed}, 640x480, single frames: codes the pipeline reads", "",
             "| taken away | QR hard | Code128 hard |", "|---|---|---|"]
    for name in CHANGES:
        cells = []
        for kind in ("qr", "code128"):
            idx = [i for i, s in enumerate(hard) if s.kind == kind]
            cells.append(f"{sum(read[name][i] for i in idx)}/{len(idx)}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    folder = args.out / "limits"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"(frames not written: {e})")
        return
    glare_only = [i for i in read["as rendered"] if not read["as rendered"][i] and read["no glare"][i]]
    examples = [i for i in glare_only if hard[i].kind == "qr"][:3] + [i for i in glare_only if hard[i].kind == "code128"][:3]
    for i in examples:
        spec = hard[i]
        pair = np.hstack([scenes.render(spec, size), scenes.render(_change(spec, CHANGES["no glare"]), size)])
        cv2.imwrite(str(folder / f"{spec.kind}-hard-{i:02d}-glare-vs-none.png"), pair)
    print(f"\n{len(glare_only)} codes read only without glare; {len(examples)} pairs in {folder}/")
    held = [hard[i] for i in glare_only if hard[i].kind == "qr"][:1]
    for spec in held:
        rows = [np.hstack([scenes.render(move(spec, shot), size, shot) for shot in range(3)])
                for move in (hand.held, hand.held_under_lamp)]
        cv2.imwrite(str(folder / "held-glare-with-code-vs-fixed-lamp.png"), np.vstack(rows))
        print(f"frames 1-3 of a held code, glare moving with it (top) and of a fixed lamp (bottom): {folder}/")


if __name__ == "__main__":
    main()
