"""Code128 read by fitting its symbols to a bar strip's profile, for bars too thin for zxing.

zxing-cpp reads Code128 from run lengths: each bar and space must come out as its own run.
Below ~2 px a module, blurred, a one-module space between two wide bars is a shallow dip,
not a run, and one lost run loses the symbol. Yet the profile still holds the code: every
Code128 symbol is 11 modules wide, so from the first bar on each symbol sits in an
11-module window where the best of the 106 patterns (blurred as the lens blurs them) can be
chosen by correlation. Each window is normalised on its own, so a glare that lifts part of
a label towards white only lowers its contrast. Measured on the bench's held labels that
every other way missed (tuning seeds 1 and 2): told the true place, 13 of 15 decoded on a
single frame this way; found by `read` from the gate's strips, 4 of 15 (the rest: the
locator's area holds too little of the label, or the pitch is under 1.2 px).

`read`: runs of bars in the profile; at each run's start (both ways: a label may be upside
down), the start symbol's place and pitch (a grid, then finer with the symbol after it);
then window by window, each allowed half a module off and 3% wider or narrower than the last
predicts (a label turned away narrows its modules along it), until a check symbol that fits
is followed by the stop pattern.

No false reads: a result needs a start symbol, every window matched (`MIN_MATCH` and
`MIN_MARGIN` over the second best), the check symbol, the stop pattern (`MIN_STOP`), quiet
zones on both sides (`QUIET`), and text Code128's code sets spell. The stop pattern and the
quiet zones are what keep a stretch inside a longer code from reading as a short one:
without them, 8 such partial reads came from 4 x 720 held frames of the bench's scenes;
with them none (0 of ~900 labels read wrong; tests/test_code128_fit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gatehouse.code128 import CODE_A, CODE_B, CODE_C, SHIFT, START_A, START_B, START_C, STOP, bars, check_symbol

SAMPLES = 4  # profile samples per module
BLUR = 0.5  # the lens and JPEG blur of the templates, in modules (best of 0, 0.5, 1 told the place)
MIN_MATCH = 0.7  # every window's best correlation at least this
MIN_MARGIN = 0.02  # and this far above its second best
MIN_STOP = 0.8  # the stop pattern's correlation at least this
QUIET = 0.6  # a quiet zone's swing under this share of the bars' (10th-90th percentile)
QUIET_MODULES = 6  # of the 10 a quiet zone should have, this many must be in the profile
START_MARGIN = 0.05  # the start symbol's correlation above every other pattern's
MIN_SYMBOLS = 3  # data symbols at least (a waybill has 6+ characters; one symbol can misfit with its check)
MIN_RUN = 100  # px: the shortest Code128 (start, one symbol, check, stop: 46 modules) at 2.2 px
GAP = 17  # px: 5 modules of 3.4 px
STARTS_TRIED = 3  # start symbols followed, best fits first
RUNS_TRIED = 2  # runs of bars a start is looked for at, longest first


def _normalised(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=-1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-9)


def _templates(values: range | list[int]) -> np.ndarray:
    # Dark = 1, sampled SAMPLES times a module and blurred by BLUR modules (Gaussian).
    rows = np.array([np.repeat(np.array(bars(v), np.float64), SAMPLES) for v in values])
    radius = int(3 * BLUR * SAMPLES)
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / (BLUR * SAMPLES)) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(rows, ((0, 0), (radius, radius)), mode="edge")
    blurred = np.array([np.convolve(r, kernel, mode="valid") for r in padded])
    return _normalised(blurred)


_SYMBOLS = _templates(range(STOP))  # 106 x 44
_STOP_T = _templates([STOP])[0]  # 52


def _runs(profile: np.ndarray) -> list[tuple[float, float]]:
    """Where bars may be, longest first: stretches where the local swing (max - min over
    13 px) stands clear of the quiet zones' noise, gaps under GAP px bridged (a bar's
    neighbours are never more than 4 modules apart; a quiet zone is 10). Not a share of the
    largest swing: glare can leave the bars at one end a few grey levels deep, and they still
    read; and a glare that flattens the middle splits one code in two runs."""
    if profile.size < 40:
        return []
    row = profile.astype(np.float32)[None]
    kernel = np.ones((1, 13), np.uint8)
    swing = (cv2.dilate(row, kernel) - cv2.erode(row, kernel))[0]
    if swing.max() < 12:
        return []
    floor = float(np.percentile(swing, 10))
    active = (swing > 2.5 * floor + 3.0).astype(np.uint8)[None]
    bridged = cv2.morphologyEx(active, cv2.MORPH_CLOSE, np.ones((1, GAP), np.uint8))[0]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bridged, [0]])))
    runs = [(float(a + 6), float(b - 7)) for a, b in zip(edges[::2], edges[1::2]) if b - a > MIN_RUN]
    return sorted(runs, key=lambda r: r[0] - r[1])[:RUNS_TRIED]


def _window(profile: np.ndarray, x: np.ndarray, pitch: np.ndarray, modules: int) -> np.ndarray:
    # For each start x and pitch (same length): `modules` modules sampled SAMPLES times each,
    # dark = high, each row normalised on its own.
    t = (np.arange(modules * SAMPLES) + 0.5) / SAMPLES
    dark = -np.interp(x[:, None] + pitch[:, None] * t[None, :], np.arange(profile.size), profile)
    return _normalised(dark)


def _starts(profile: np.ndarray, a: float, pitch: tuple[float, float]) -> list[tuple[float, float]]:
    """The (x0, pitch) pairs near the rough start `a` where a start symbol and the symbol after
    it fit best (one symbol alone leaves the pitch loose by ~10%): a coarse grid on the start
    symbol, then finer around its best on both."""
    starts = _SYMBOLS[[START_A, START_B, START_C]].T
    pitches = np.exp(np.arange(np.log(pitch[0]), np.log(pitch[1]), 0.05))
    xs, ps = (g.ravel() for g in np.meshgrid(np.arange(-1.0, 1.01, 0.5), pitches))
    xs = a + xs * ps
    coarse = (_window(profile, xs, ps, 11) @ starts).max(axis=1)
    fine_x, fine_p = [], []
    for i in np.argsort(-coarse)[:STARTS_TRIED]:
        dx, dp = (g.ravel() for g in np.meshgrid(np.arange(-0.5, 0.51, 0.25), np.exp(np.arange(-0.04, 0.041, 0.02))))
        fine_p.append(ps[i] * dp)
        fine_x.append(xs[i] + dx * ps[i])
    xs, ps = np.concatenate(fine_x), np.concatenate(fine_p)
    both = _window(profile, xs, ps, 22)
    corr = (_normalised(both[:, : 11 * SAMPLES]) @ starts).max(axis=1) + \
        (_normalised(both[:, 11 * SAMPLES :]) @ _SYMBOLS.T).max(axis=1)
    best = np.argsort(-corr)[:STARTS_TRIED]
    return [(float(xs[i]), float(ps[i])) for i in best]


def _tracked(profile: np.ndarray, x: float, pitch: float, end: float) -> tuple[list[int], float] | None:
    """Read symbols from a start symbol at x on, window by window, until the stop pattern
    follows a check symbol that fits: each window may sit up to half a module off where the
    last one predicts and its modules 3% wider or narrower (a label turned away narrows its
    modules along it), and the pitch follows what is found. Returns the values (start to
    check) and where the stop pattern ends, or None if no stop came before `end` or a window
    matched poorly."""
    shifts, scales = np.arange(-0.5, 0.51, 0.25), np.array([0.97, 1.0, 1.03])
    grid_s, grid_k = (g.ravel() for g in np.meshgrid(shifts, scales))
    values: list[int] = []
    weakest = (1.0, 1.0)  # the lowest best correlation and margin so far
    while x < end:
        if len(values) >= MIN_SYMBOLS + 2 and _checks(values):
            corr = _window(profile, x + grid_s * pitch, pitch * grid_k, 13) @ _STOP_T
            k = int(np.argmax(corr))
            if corr[k] >= MIN_STOP:
                return values, x + float(grid_s[k]) * pitch + 13 * pitch * float(grid_k[k])
        first = not values
        tried_s, tried_k = (np.zeros(1), np.ones(1)) if first else (grid_s, grid_k)
        corr = _window(profile, x + tried_s * pitch, pitch * tried_k, 11) @ _SYMBOLS.T
        k, v = np.unravel_index(int(np.argmax(corr)), corr.shape)
        row = np.sort(corr[k])
        if first and (v not in (START_A, START_B, START_C) or row[-1] - row[-2] < START_MARGIN):
            # A start symbol, clearly: a data symbol taken for one reads the rest of a code
            # whose left part glare or a thumb hides as a shorter code (review L1), and the
            # check cannot tell start B from C with the next symbol one off (L3).
            return None
        weakest = (min(weakest[0], float(row[-1])), min(weakest[1], float(row[-1] - row[-2])))
        if weakest[0] < MIN_MATCH or weakest[1] < MIN_MARGIN:
            return None  # lost (or never on a code): no need to follow it further
        values.append(int(v))
        x += float(tried_s[k]) * pitch
        pitch *= float(tried_k[k])
        x += 11 * pitch
    return None


def _quiet_around(profile: np.ndarray, x0: float, x1: float, pitch: float) -> bool:
    """Whether quiet zones flank the bars: QUIET_MODULES of flat paper inside the profile on
    each side, as light as the code's spaces. A read that ends inside a longer code (a
    start-like symbol, a few symbols whose check fits by chance, a stop-like run) has bars
    beside it; one whose quiet zone the strip does not hold is not taken either."""
    lo, hi = int(x0 - (QUIET_MODULES + 1) * pitch), int(x1 + (QUIET_MODULES + 1) * pitch)
    if lo < 0 or hi > profile.size:
        return False
    inside = profile[int(x0) : int(x1)]
    light, dark = float(np.percentile(inside, 90)), float(np.percentile(inside, 10))
    bars = light - dark
    for zone in (profile[lo : int(x0 - pitch)], profile[int(x1 + pitch) : hi]):
        if float(np.ptp(zone)) >= QUIET * bars or float(zone.mean()) < light - QUIET * bars:
            return False
    return True


def _checks(values: list[int]) -> bool:
    # The last value is the check symbol of the others.
    return check_symbol(values[:-1]) == values[-1]


@dataclass(frozen=True)
class Fit:
    """A Code128 read from a profile: its text and where its bars start and end (profile px)."""

    text: str
    start: float
    end: float


def read(profile: np.ndarray, pitch: tuple[float, float] = (2.2, 5.5)) -> Fit | None:
    """Return the Code128 fitted to a 1-D profile across upright bars (dark = low), or None.
    `pitch`: the px a module may take in the profile (a thicker code is zxing's)."""
    profile = np.nan_to_num(np.asarray(profile, np.float64))
    if profile.ndim != 1:
        raise ValueError(f"a profile is one row of values, not an array of shape {profile.shape}")
    if not 0 < pitch[0] < pitch[1]:
        raise ValueError(f"pitch range {pitch}: two px values, the first smaller")
    # A strip may be upside down (the label turned past 90 degrees): both ways are tried,
    # from the start of each run of bars.
    for reverse in (False, True):
        way = profile[::-1].copy() if reverse else profile
        for a, _ in _runs(way):
            for x0, p in _starts(way, a, pitch):
                found = _tracked(way, x0, p, float(way.size))
                if found is None or not _quiet_around(way, x0, found[1], p):
                    continue
                text = spell(found[0][:-1])
                if text is not None:
                    start, end = x0, found[1]
                    if reverse:
                        start, end = way.size - 1 - end, way.size - 1 - x0
                    return Fit(text, start, end)
    return None


def spell(values: list[int]) -> str | None:
    """Return the text of Code128 symbol values (start first, no check symbol), or None if
    they spell something this reader does not take (function codes, control characters)."""
    sets = {START_A: "A", START_B: "B", START_C: "C"}
    if not values or values[0] not in sets:
        return None
    current, out, shift = sets[values[0]], [], False
    for v in values[1:]:
        code = ("B" if current == "A" else "A") if shift else current
        shift = False
        if code == "C":
            if v < 100:
                out.append(f"{v:02d}")
            elif v in (CODE_B, CODE_A):
                current = "B" if v == CODE_B else "A"
            else:
                return None
        elif v < 96:
            if code == "A" and v >= 64:
                return None  # control characters: not on a waybill
            char = chr(v + 32)
            if char == "\x7f":
                return None
            out.append(char)
        elif v == SHIFT:
            shift = True
        elif v == CODE_C:
            current = "C"
        elif (v, code) in ((CODE_B, "A"), (CODE_A, "B")):
            current = "B" if code == "A" else "A"
        else:
            return None  # FNC1-4
    if shift:
        return None
    return "".join(out) or None


def profile_of(strip: np.ndarray, max_shear: float = 0.25, windows: int = 6) -> np.ndarray:
    """Return the profile across an upright bar strip: its middle half of rows averaged along
    the bars, each row first shifted by the bars' slant where it is.

    A label turned towards or away from the camera, or a strip's angle a little off, leaves the
    bars slanted in the strip, and a label tilted back slants them more at one end than the
    other: averaged straight down, 40 rows of a slant of 0.1 px a row smear a 3 px module away.
    The slant is measured in `windows` stretches along the strip (the shift that best aligns
    the band's upper and lower halves there, at most `max_shear` px a row) and fitted by a line.
    """
    strip = np.asarray(strip)
    if strip.ndim != 2 or min(strip.shape) < 1:
        raise ValueError(f"a strip is a grey image, not an array of shape {strip.shape}")
    h, w = strip.shape
    band = strip[h // 4 : max(h // 4 + 2, 3 * h // 4)].astype(np.float32)
    rows = band.shape[0]
    top = h // 4
    gap = rows / 2
    upper, lower = band[: rows // 2].mean(0), band[rows // 2 :].mean(0)
    hp_u = upper - cv2.blur(upper[None], (15, 1))[0]
    hp_l = lower - cv2.blur(lower[None], (15, 1))[0]
    reach = int(max_shear * gap) + 1
    centres, lags, weights = [], [], []
    edges = np.linspace(reach, w - reach, windows + 1).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi - lo < 8:
            continue
        fits = np.array([float(np.dot(hp_u[lo:hi], hp_l[lo + d : hi + d])) for d in range(-reach, reach + 1)])
        k = int(np.argmax(fits))
        lag = float(k - reach)
        if 0 < k < len(fits) - 1:  # to a fraction of a px: the parabola through the peak
            denom = fits[k - 1] - 2 * fits[k] + fits[k + 1]
            if denom < 0:
                lag += 0.5 * (fits[k - 1] - fits[k + 1]) / denom
        centres.append((lo + hi) / 2)
        lags.append(lag)
        weights.append(max(float(fits[k]), 0.0))
    x = np.arange(w, dtype=np.float32)
    if len(lags) >= 2 and sum(weights) > 0:
        slope, offset = np.polyfit(centres, lags, 1, w=np.sqrt(np.array(weights) + 1e-9))
        shear = ((offset + slope * x) / gap).astype(np.float32)
    else:
        shear = np.zeros(w, np.float32)
    # Every row of the strip straightened; then the rows that hold the bars (their high-pass
    # profile follows the middle band's) averaged: the bars often span more than the middle
    # half, and more rows average more noise away.
    centre = top + (rows - 1) / 2
    ys = np.arange(h, dtype=np.float32)[:, None]
    map_x = (x[None, :] + shear[None, :] * (ys - centre)).astype(np.float32)
    map_y = np.repeat(ys, w, axis=1)
    straight = cv2.remap(strip.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    guide = straight[top : top + rows].mean(0)
    guide = guide - cv2.blur(guide[None], (15, 1))[0]
    hp = straight - cv2.blur(straight, (15, 1))
    agree = (hp @ guide) / np.maximum(np.linalg.norm(hp, axis=1) * np.linalg.norm(guide), 1e-9)
    keep = agree > 0.5
    keep[top : top + rows] = True
    return straight[keep].mean(0).astype(np.float64)
