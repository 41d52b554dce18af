"""The default decoder: a cheap gate, zxing-cpp on the frame, then targeted retries on crops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from kiosk.scanner import preprocess as pp
from kiosk.scanner.decoders import Decoder, PyzbarDecoder, Symbol, ZxingDecoder
from kiosk.scanner.preprocess import Region

# A retry turns a crop into (image to decode, map from its pixels back to the crop's pixels).
Retry = Callable[[np.ndarray, Region], tuple[np.ndarray, Callable[[float, float], tuple[float, float]]]]


@dataclass(frozen=True)
class PipelineOptions:
    """What the pipeline does; every stage can be switched off to measure what it buys."""

    ink: bool = True  # darkest-channel grey for colour frames instead of luma
    gate: bool = True  # skip zxing when no code-like region is in view
    change: bool = True  # reuse the last answer while the scene has not changed
    change_threshold: float = 2.0  # mean grey-level change per 16x16 cell that counts as motion
    retries: bool = True  # retry crops of code-like regions that zxing did not read
    retries_per_frame: int = 3  # bounded so a hard frame still fits 15 fps on a Pi core
    pyzbar: bool = True  # ZBar as a second opinion on crops
    primary_invert: bool = True  # let zxing try inverted (dark-mode) codes on the whole frame
    primary_downscale: bool = True


def _scale(factor: float) -> Callable[[float, float], tuple[float, float]]:
    return lambda x, y: (x / factor, y / factor)


def _upscale_factor(region: Region) -> float:
    # Enlarge small crops to ~400 px so 1.7 px modules become ~4 px; never shrink, never blow up.
    return float(np.clip(400.0 / max(region.w, region.h, 1), 1.0, 3.0))


def _retry_upscale(image: np.ndarray, region: Region) -> tuple[np.ndarray, Callable]:
    f = _upscale_factor(region)
    return pp.upscale(image, f), _scale(f)


def _retry_stretch(image: np.ndarray, region: Region) -> tuple[np.ndarray, Callable]:
    f = _upscale_factor(region)
    return pp.upscale(pp.stretch(image), f), _scale(f)


def _retry_sharpen(image: np.ndarray, region: Region) -> tuple[np.ndarray, Callable]:
    f = _upscale_factor(region)
    return pp.sharpen(pp.upscale(image, f)), _scale(f)


def _retry_upright(image: np.ndarray, region: Region) -> tuple[np.ndarray, Callable]:
    # zxing's 1-D readers scan rows; turning the bars upright lets one row cross them all.
    rotated, inverse = pp.rotate(image, region.angle)

    def back(x: float, y: float) -> tuple[float, float]:
        return (
            inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2],
            inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2],
        )

    return rotated, back


# Bars are mostly one-way edges; QR codes (and text) have edges every way.
_BARS_RETRIES: tuple[Retry, ...] = (_retry_upright, _retry_stretch, _retry_upscale)
_SQUARE_RETRIES: tuple[Retry, ...] = (_retry_upscale, _retry_stretch, _retry_sharpen)
_BARS_COHERENCE = 0.45


class PipelineDecoder:
    """Gate, zxing-cpp on the whole frame, then bounded retries on code-like crops.

    Stateful across frames of one camera: while the scene stays still it returns the last
    answer, or, if a code-like region stayed unread, spends each new frame on retries it has
    not tried yet instead of repeating the ones that already failed.
    """

    def __init__(self, options: PipelineOptions | None = None) -> None:
        self.options = options or PipelineOptions()
        o = self.options
        self._primary = ZxingDecoder(
            try_rotate=True, try_downscale=o.primary_downscale, try_invert=o.primary_invert
        )
        # Crops are already enlarged, so zxing need not try smaller copies of them.
        self._crop_zxing = ZxingDecoder(try_rotate=True, try_downscale=False, try_invert=True)
        self._crop_zbar: Decoder | None = PyzbarDecoder() if o.pyzbar else None
        self.reset()

    def reset(self) -> None:
        """Forget the previous scene (call when the camera or its settings change)."""
        self._cells: np.ndarray | None = None
        self._last: list[Symbol] = []
        self._jobs: list[tuple[Region, Retry, bool]] = []

    def decode(self, gray: np.ndarray) -> list[Symbol]:
        """Return the QR and Code128 symbols read in a grey or BGR frame."""
        o = self.options
        if gray.ndim == 3:
            gray = pp.ink(gray) if o.ink else pp.luma(gray)
        cells = pp.cell_means(gray) if o.change else None
        if cells is not None and self._unchanged(cells):
            if self._last or not self._jobs:
                return list(self._last)
            return self._run_jobs(gray)
        self._cells = cells
        self._last, self._jobs = [], []

        regions = pp.code_regions(gray) if (o.gate or o.retries) else []
        if o.gate and not regions:
            return []
        symbols = self._primary.decode(gray)
        if symbols or not o.retries:
            self._last = symbols
            return list(symbols)
        self._jobs = self._plan(regions)
        return self._run_jobs(gray)

    def _unchanged(self, cells: np.ndarray) -> bool:
        if self._cells is None or self._cells.shape != cells.shape:
            return False
        change = float(np.mean(np.abs(cells - self._cells)))
        # Compare with the scene the answer belongs to, not the previous frame, so a slow drift
        # still counts as a change once it adds up.
        return change < self.options.change_threshold

    def _plan(self, regions: list[Region]) -> list[tuple[Region, Retry, bool]]:
        # Best region first; each job is (region, retry, ask ZBar instead of zxing).
        jobs: list[tuple[Region, Retry, bool]] = []
        for region in regions:
            bars = region.coherence >= _BARS_COHERENCE
            retries = _BARS_RETRIES if bars else _SQUARE_RETRIES
            jobs.extend((region, retry, False) for retry in retries)
            if self._crop_zbar is not None:
                jobs.append((region, retries[0], True))
        return jobs

    def _run_jobs(self, gray: np.ndarray) -> list[Symbol]:
        for _ in range(self.options.retries_per_frame):
            if not self._jobs:
                break
            region, retry, zbar = self._jobs.pop(0)
            symbols = self._attempt(gray, region, retry, zbar)
            if symbols:
                self._last, self._jobs = symbols, []
                return list(symbols)
        return []

    def _attempt(self, gray: np.ndarray, region: Region, retry: Retry, zbar: bool) -> list[Symbol]:
        patch, x0, y0 = pp.crop(gray, region)
        image, back = retry(patch, region)
        decoder = self._crop_zbar if zbar and self._crop_zbar is not None else self._crop_zxing
        found = decoder.decode(image)
        return [
            Symbol(
                s.text,
                s.format,
                tuple(
                    (int(round(px + x0)), int(round(py + y0)))
                    for px, py in (back(x, y) for x, y in s.polygon)
                ),
            )
            for s in found
        ]

