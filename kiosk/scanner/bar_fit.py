"""Bars too thin for zxing: a long strip across a bar area, read by fitting Code128's symbols
to its profile (kiosk/scanner/code128_fit.py). One of the bar areas' ways in pipeline.py."""

from __future__ import annotations

from typing import Callable

import numpy as np

from kiosk.scanner import code128_fit
from kiosk.scanner import preprocess as pp
from kiosk.scanner.locate import Candidate
from kiosk.scanner.readers import Miss, Symbol

# The strip runs this share of the bar area's length beyond each end (plus a few px): the
# locator often finds only part of a label (glare flattens a third of it), and the fit
# needs the start symbol and the stop pattern inside the strip.
PAD = 0.6


def prepare(candidate: Candidate) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The long upright strip across a bar area and its map back to the frame."""
    points = np.array(candidate.points, np.float64)

    def strip(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pp.bar_strip(gray, candidate.angle, points, pad=PAD)

    return strip


class FitReader:
    """Reads Code128 from an upright strip by fitting its symbols (the same `read` as zxing's)."""

    def read(self, strip: np.ndarray) -> tuple[list[Symbol], list[Miss]]:
        """Return the Code128 read in the strip (strip pixels) and no misses."""
        fit = code128_fit.read(code128_fit.profile_of(strip))
        if fit is None:
            return [], []
        h = strip.shape[0]
        x0, x1 = int(fit.start), int(round(fit.end))
        return [Symbol(fit.text, "code128", ((x0, h // 4), (x1, h // 4), (x1, 3 * h // 4), (x0, 3 * h // 4)))], []
