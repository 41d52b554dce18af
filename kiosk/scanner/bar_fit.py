"""Bars too thin for zxing: a long strip across a bar area, read by fitting Code128's symbols
to its profile (kiosk/scanner/code128_fit.py). One of the bar areas' ways in pipeline.py."""

from __future__ import annotations

from typing import Callable

import numpy as np

from kiosk.scanner import code128_fit
from kiosk.scanner import preprocess as pp
from kiosk.scanner.locate import CELL, Candidate
from kiosk.scanner.readers import Miss, Symbol

# The strip runs this share of the bar area's length beyond each end (plus a few px): the
# locator often finds only part of a label (glare flattens a third of it), and the fit
# needs the start symbol and the stop pattern inside the strip.
PAD = 0.6
MAX_LENGTH = 900  # frame px
MAX_ROWS = 96  # rows of the strip (96 read two held labels of the tuning seeds 48 did not)


def prepare(candidate: Candidate) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The long upright strip across a bar area and its map back to the frame (worked out only
    when the attempt runs: most planned ways of a frame never do)."""

    def strip(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        points = np.array(candidate.points, np.float64)
        across = points @ np.array([np.cos(candidate.angle), np.sin(candidate.angle)])
        length = float(np.ptp(across)) + CELL
        # ...but no longer than MAX_LENGTH in all: a bar area as wide as the frame (a fence)
        # needs no more, and the fit's cost grows with the strip's length.
        pad = float(np.clip((MAX_LENGTH / length - 1) / 2, 0.12, PAD))
        image, back = pp.bar_strip(gray, candidate.angle, points, pad=pad)
        # Its middle rows only: a waybill's bars are short, and the fit's cost grows with
        # the rows (a fence filling the frame made a 480-row strip, 30-60 ms here: review L5).
        cut = max(0, (image.shape[0] - MAX_ROWS) // 2)
        if cut:
            image = image[cut : cut + MAX_ROWS]
            back = back @ np.array([[1.0, 0.0, 0.0], [0.0, 1.0, float(cut)], [0.0, 0.0, 1.0]])
        return image, back

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
