"""A located QR code's module grid read from the image: each module's value and how sure it is.

zxing-cpp reports where it found a QR code it could not read (its four outer corners, its
version). Its own sampling decides each module dark or light, and its Reed-Solomon decoder
counts every module it got wrong as an error. Here the grid is sampled again: the corners
fitted to the modules the standard fixes (finder, timing and alignment patterns), each
module's value levelled against its neighbours (glare adds light smoothly), and each given a
reliability, near 0 where the neighbourhood has no contrast left (a clipped reflection).
kiosk/scanner/qr_repair.py then erases the least reliable codewords, which Reed-Solomon
corrects twice as many of as errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.scanner import qr_repair

LEVEL_WINDOW = 5  # modules: a module is levelled between its 5x5 neighbours' darkest and lightest
SHARPEN = 0.5


def _transform(corners: np.ndarray, n: int) -> np.ndarray:
    square = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    return cv2.getPerspectiveTransform(square, np.float32(corners))


def _centres(n: int) -> np.ndarray:
    c = np.arange(n, dtype=np.float32) + 0.5
    xs, ys = np.meshgrid(c, c)
    return np.stack([xs.ravel(), ys.ravel()], 1)[None]


def _sample(image: np.ndarray, hom: np.ndarray, points: np.ndarray) -> np.ndarray:
    at = cv2.perspectiveTransform(points, hom)[0]
    return cv2.remap(image, at[None, :, 0].copy(), at[None, :, 1].copy(), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)[0]


def _agreement(values: np.ndarray, dark: np.ndarray) -> float:
    # Correlation of the sampled values with the fixed pattern (dark = low): 1 a perfect fit,
    # -1 a perfect fit of an inverted (dark-mode) code.
    v = values - values.mean()
    d = np.where(dark, -1.0, 1.0)
    d = d - d.mean()
    norm = float(np.sqrt((v * v).sum() * (d * d).sum()))
    return float((v * d).sum()) / norm if norm > 0 else 0.0


def fit(image: np.ndarray, corners: np.ndarray, version: int, rounds: int = 2) -> tuple[np.ndarray, float]:
    """Return the corners moved (each by up to a module) to where the fixed modules fit best,
    and that fit (the correlation, negative for an inverted code)."""
    n = qr_repair.size(version)
    known, dark = qr_repair.known_modules(version)
    rows, cols = np.nonzero(known)
    points = np.stack([cols + 0.5, rows + 0.5], 1).astype(np.float32)[None]
    expected = dark[rows, cols]
    start = np.float32(corners)
    best = start.copy()
    side = float(np.linalg.norm(best[1] - best[0])) / n

    def score(c: np.ndarray) -> float:
        return abs(_agreement(_sample(image, _transform(c, n), points), expected))

    top = score(best)
    for step in [side * s for s in (0.5, 0.25)][:rounds]:
        for corner in range(4):
            for axis in range(2):
                for sign in (-1.0, 1.0):
                    # Up to a module from where zxing put it, no further: a fit that walks
                    # away is fitting something else (and costs a step each way).
                    while abs(best[corner, axis] + sign * step - start[corner, axis]) <= side + 1e-3:
                        trial = best.copy()
                        trial[corner, axis] += sign * step
                        s = score(trial)
                        if s <= top:
                            break
                        best, top = trial, s
    signed = _agreement(_sample(image, _transform(best, n), points), expected)
    return best, signed


@dataclass(frozen=True)
class Levelled:
    """One image's samples of a grid: each module's value between its neighbourhood's darkest
    (-1) and lightest (+1), that neighbourhood's contrast, and the fixed modules' fit."""

    signed: np.ndarray
    contrast: np.ndarray
    fit: float


def levelled(image: np.ndarray, corners: np.ndarray, version: int, refit: bool = True) -> Levelled:
    """Sample the grid at the module centres (the corners refitted unless told not to)."""
    n = qr_repair.size(version)
    img = image.astype(np.float32)
    corners = np.float32(corners)
    if refit:
        corners, _ = fit(img, corners, version)
    known, dark = qr_repair.known_modules(version)
    values = _sample(img, _transform(corners, n), _centres(n)).reshape(n, n)
    if SHARPEN:
        around = cv2.filter2D(values, -1, np.float32([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]]),
                              borderType=cv2.BORDER_REPLICATE)
        values = values + SHARPEN * (values - around)
    agreement = _agreement(values[known], dark[known])
    kernel = np.ones((LEVEL_WINDOW, LEVEL_WINDOW), np.uint8)
    hi, lo = cv2.dilate(values, kernel), cv2.erode(values, kernel)
    contrast = hi - lo
    return Levelled((values - (hi + lo) / 2) / np.maximum(contrast / 2, 1e-3), contrast, agreement)


def decide(samples: list[Levelled]) -> tuple[np.ndarray, np.ndarray]:
    """Each module dark or light from one or more images' samples, and how sure: images are
    weighted by their local contrast, so a module a reflection washed out on one image comes
    from another; an inverted (dark-mode) code's samples count inverted."""
    num = sum(np.sign(x.fit or 1.0) * x.signed * x.contrast**2 for x in samples)
    weight = sum(x.contrast**2 for x in samples)
    signed = num / np.maximum(weight, 1e-6)
    contrast = np.sqrt(weight / len(samples))
    # Sure where the value is far from its neighbourhood's middle AND the neighbourhood has the
    # contrast of the code's unharmed parts; a clipped glare has neither.
    typical = float(np.percentile(contrast, 75)) or 1.0
    return signed < 0, np.abs(signed) * np.clip(contrast / typical, 0.0, 1.0)


def modules(image: np.ndarray, corners: np.ndarray, version: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Sample the grid: (dark NxN bool, reliability NxN >= 0, fit of the fixed modules)."""
    sample = levelled(image, corners, version)
    dark, reliability = decide([sample])
    return dark, reliability, sample.fit


@dataclass(frozen=True)
class _Seen:
    frame: int
    version: int
    centre: tuple[float, float]  # frame pixels
    side: float  # frame pixels
    sample: Levelled


class HeldGrids:
    """The grids of located, unread QR codes on the last few frames, so a code held in view is
    decided from all its frames' samples: the grid is the same whatever the image, so no
    alignment is needed, only the same version in about the same place."""

    def __init__(self, frames: int = 2, per_frame: int = 2) -> None:
        self._frames, self._per_frame = frames, per_frame
        self._frame = 0
        self._seen: list[_Seen] = []

    def next_frame(self) -> None:
        self._frame += 1
        self._seen = [s for s in self._seen if s.frame >= self._frame - self._frames]

    def clear(self) -> None:
        self._seen = []

    def earlier(self, version: int, centre: tuple[float, float], side: float) -> list[Levelled]:
        """The samples of the same code (same version, centre within half its side) kept from
        earlier frames, newest first."""
        near = [s for s in self._seen if s.version == version and s.frame < self._frame
                and np.hypot(s.centre[0] - centre[0], s.centre[1] - centre[1]) < 0.5 * max(side, s.side)]
        return [s.sample for s in sorted(near, key=lambda s: -s.frame)]

    def add(self, version: int, centre: tuple[float, float], side: float, sample: Levelled) -> None:
        if sum(s.frame == self._frame for s in self._seen) < self._per_frame:
            self._seen.append(_Seen(self._frame, version, centre, side, sample))
