"""Image helpers: a bar strip's rows are stretched between their own darkest and lightest."""

import numpy as np

from kiosk.scanner import preprocess


def test_bars_under_glare_come_out_as_dark_as_elsewhere():
    rng = np.random.default_rng(0)
    widths = rng.integers(3, 12, 80)
    row = np.concatenate([np.full(w, i % 2, np.uint8) for i, w in enumerate(widths)])[:600]
    ink, paper = np.where(row == 1, 30, 230), np.where(row == 1, 205, 250)
    # Left half as printed; right half under glare: bars 205, paper 250 (45 grey levels apart).
    line = np.where(np.arange(row.size) < 300, ink, paper).astype(np.uint8)
    rows = np.tile(line, (4, 1))
    level = preprocess.level_across(rows, 61)
    left, right = level[:, 40:260], level[:, 340:560]
    bars = row[None, :].repeat(4, 0)
    for part, mask in ((left, bars[:, 40:260]), (right, bars[:, 340:560])):
        assert part[mask == 1].mean() < 60 and part[mask == 0].mean() > 190
    # Flat paper stays flat: a range under the floor is not stretched into noise.
    flat = np.full((2, 200), 240, np.uint8) + rng.integers(0, 3, (2, 200)).astype(np.uint8)
    assert np.ptp(preprocess.level_across(flat, 61)) < 255 * 3 / 6 + 1
