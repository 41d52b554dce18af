"""Barcode decoders behind one protocol; the only module that imports pyzbar and zxingcpp."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Literal, Protocol

import numpy as np
import zxingcpp
from pyzbar import pyzbar

from kiosk.scanner import preprocess as pp
from kiosk.scanner.preprocess import Region, luma

Format = Literal["qr", "code128"]
Point = tuple[int, int]

_ZXING_FORMATS: dict[object, Format] = {
    zxingcpp.BarcodeFormat.QRCode: "qr",
    zxingcpp.BarcodeFormat.Code128: "code128",
}
_PYZBAR_FORMATS: dict[str, Format] = {"QRCODE": "qr", "CODE128": "code128"}


@dataclass(frozen=True)
class Symbol:
    """One decoded code: its text, format and corner points in full-frame pixels."""

    text: str
    format: Format
    polygon: tuple[Point, ...]


class Decoder(Protocol):
    """Anything that turns a frame into the codes it can read."""

    def decode(self, gray: np.ndarray) -> list[Symbol]:
        """Return the QR and Code128 symbols read from a 2-D uint8 frame (BGR is converted)."""
        ...


def text_of(raw: bytes) -> str | None:
    """Return raw code bytes as text, or None when they are not valid UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # NUL or an empty payload is never a real ticket or waybill; treat it as noise.
    if not text or "\x00" in text:
        return None
    return text


def _as_gray(image: np.ndarray) -> np.ndarray:
    # pyzbar silently reads only the first channel of a colour frame, so every decoder converts.
    if image.ndim == 3:
        return luma(image)
    return np.ascontiguousarray(image)


class ZxingDecoder:
    """zxing-cpp limited to QR and Code128."""

    def __init__(
        self,
        try_rotate: bool = True,
        try_downscale: bool = True,
        try_invert: bool = True,
        binarizer: str = "local",
    ) -> None:
        self._options = {
            "formats": tuple(_ZXING_FORMATS),
            "try_rotate": try_rotate,
            "try_downscale": try_downscale,
            "try_invert": try_invert,
            "binarizer": {
                "local": zxingcpp.Binarizer.LocalAverage,
                "global": zxingcpp.Binarizer.GlobalHistogram,
            }[binarizer],
        }

    def decode(self, gray: np.ndarray) -> list[Symbol]:
        """Return the symbols zxing-cpp reads in the frame."""
        return self.read(gray)[0]

    def read(self, gray: np.ndarray) -> tuple[list[Symbol], list[tuple[Point, ...]]]:
        """Return the symbols read and the outlines of codes found but not read (misses)."""
        symbols, misses = [], []
        for found in zxingcpp.read_barcodes(_as_gray(gray), return_errors=True, **self._options):
            pos = found.position
            corners = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
            polygon = tuple((int(p.x), int(p.y)) for p in corners)
            fmt = _ZXING_FORMATS.get(found.format)
            if fmt is None:
                continue
            # A located code with a checksum or format error is where a retry should look.
            if not found.valid:
                misses.append(polygon)
                continue
            text = text_of(found.bytes)
            if text is not None:
                symbols.append(Symbol(text, fmt, polygon))
        return symbols, misses


class PyzbarDecoder:
    """ZBar (via pyzbar) limited to QR and Code128."""

    def __init__(self) -> None:
        self._symbols = [pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarSymbol.CODE128]

    def decode(self, gray: np.ndarray) -> list[Symbol]:
        """Return the symbols ZBar reads in the frame."""
        symbols = []
        for found in pyzbar.decode(_as_gray(gray), symbols=self._symbols):
            fmt = _PYZBAR_FORMATS.get(found.type)
            text = text_of(found.data)
            if fmt is None or text is None:
                continue
            symbols.append(Symbol(text, fmt, tuple((int(p.x), int(p.y)) for p in found.polygon)))
        return symbols


# The default decoder: zxing-cpp on the frame, then bounded retries on code-like crops.
# It lives here, beside the decoders it is built from, so that `make_decoder` can build it
# without an import circle; kiosk/scanner/pipeline.py is the name the benches import.

Back = Callable[[float, float], tuple[float, float]]
# A retry turns a crop into an image to decode plus the map from its pixels back to the crop.
Retry = Callable[[np.ndarray, Region], tuple[np.ndarray, Back]]


@dataclass(frozen=True)
class PipelineOptions:
    """What the pipeline does; every stage can be switched off to measure what it buys."""

    # Darkest-channel grey instead of luma for colour frames. Off: it measured worse, because
    # camera and JPEG chroma is half resolution and noisier, which costs more than the extra
    # contrast of a green module gains (docs/performance.md).
    ink: bool = False
    change: bool = True  # reuse the last answer while the scene has not changed
    change_threshold: float = 2.0  # mean grey-level change per 16x16 cell that counts as motion
    retries: bool = True  # retry crops where zxing located a code it could not read
    regions: bool = True  # ...and crops of regions that merely look code-like (edge density)
    retries_per_frame: int = 3  # bounded so a hard frame still fits 15 fps on a Pi core
    # Retries on a region that only looks code-like (text does too) on a scene's first frame;
    # the rest wait for the next still frames, so a new empty frame stays cheap.
    first_frame_weak_retries: int = 0
    pyzbar: bool = True  # ZBar as a second opinion on crops
    primary_invert: bool = True  # let zxing try inverted (dark-mode) codes on the whole frame
    primary_rotate: bool = False  # 90-degree 1-D scan; the upright retry covers turned labels
    primary_downscale: bool = False  # pays only for codes far larger than ours


@dataclass(frozen=True)
class _Job:
    region: Region
    retry: Retry
    zbar: bool
    strong: bool  # zxing located a code here but could not read it


def _scale(factor: float) -> Back:
    return lambda x, y: (x / factor, y / factor)


def _upscale_factor(image: np.ndarray) -> float:
    # Enlarge small crops to ~480 px so 2 px modules become ~4 px; never shrink, never blow up.
    return float(np.clip(480.0 / max(image.shape), 1.0, 3.0))


def _retry_upscale(image: np.ndarray, region: Region) -> tuple[np.ndarray, Back]:
    f = _upscale_factor(image)
    return pp.upscale(image, f), _scale(f)


def _retry_stretch(image: np.ndarray, region: Region) -> tuple[np.ndarray, Back]:
    f = _upscale_factor(image)
    return pp.upscale(pp.stretch(image), f), _scale(f)


def _retry_sharpen(image: np.ndarray, region: Region) -> tuple[np.ndarray, Back]:
    f = _upscale_factor(image)
    return pp.sharpen(pp.upscale(image, f)), _scale(f)


def _retry_upright(image: np.ndarray, region: Region) -> tuple[np.ndarray, Back]:
    # zxing's 1-D readers scan rows; turning the bars upright lets one row cross them all.
    rotated, inverse = pp.rotate(image, region.angle)

    def back(x: float, y: float) -> tuple[float, float]:
        return (
            inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2],
            inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2],
        )

    return rotated, back


# Bars have most edge energy one way; crops of QR codes (and of text) every way.
_BARS_RETRIES: tuple[Retry, ...] = (_retry_upright, _retry_upscale, _retry_stretch)
_SQUARE_RETRIES: tuple[Retry, ...] = (_retry_upscale, _retry_stretch, _retry_sharpen)
_BARS_COHERENCE = 0.25


def _box(polygon: tuple[tuple[int, int], ...]) -> Region:
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return Region(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1, np.inf, 0.0)


class PipelineDecoder:
    """zxing-cpp on the whole frame, then bounded retries on crops where a code seems to be.

    Stateful across the frames of one camera: while the scene stays still it returns the
    last answer, or, if a code-like region stayed unread, spends each new frame on retries
    it has not tried yet instead of repeating the ones that already failed.
    """

    def __init__(self, options: PipelineOptions | None = None) -> None:
        self.options = options or PipelineOptions()
        o = self.options
        self._primary = ZxingDecoder(
            try_rotate=o.primary_rotate,
            try_downscale=o.primary_downscale,
            try_invert=o.primary_invert,
        )
        # Crops are already enlarged, so zxing need not try smaller copies of them.
        self._crop_zxing = ZxingDecoder(try_rotate=True, try_downscale=False, try_invert=True)
        self._crop_zbar: Decoder | None = PyzbarDecoder() if o.pyzbar else None
        self.reset()

    def reset(self) -> None:
        """Forget the previous scene (call when the camera or its settings change)."""
        self._cells: np.ndarray | None = None
        self._last: list[Symbol] = []
        self._jobs: list[_Job] = []
        self._regions_pending = False

    def decode(self, gray: np.ndarray) -> list[Symbol]:
        """Return the QR and Code128 symbols read in a grey or BGR frame."""
        o = self.options
        if gray.ndim == 3:
            gray = pp.ink(gray) if o.ink else pp.luma(gray)
        cells = pp.cell_means(gray) if o.change else None
        if cells is not None and self._unchanged(cells):
            if self._regions_pending:
                self._regions_pending = False
                self._jobs += self._plan(gray, pp.code_regions(gray), False)
            if self._last or not self._jobs:
                return list(self._last)
            return self._run_jobs(gray, o.retries_per_frame, weak_allowed=o.retries_per_frame)
        self._cells = cells
        self._last, self._jobs, self._regions_pending = [], [], False

        symbols, misses = self._primary.read(gray)
        if symbols or not o.retries:
            self._last = symbols
            return list(symbols)
        self._jobs = self._plan(gray, [_box(m) for m in misses], True)
        if o.regions and not self._jobs:
            if o.first_frame_weak_retries > 0:
                self._jobs = self._plan(gray, pp.code_regions(gray), False)
            else:
                # Looking for regions costs ~1 ms; on a new scene that is half the budget of an
                # empty frame, so it waits for the next frame of the same still scene.
                self._regions_pending = o.change
        return self._run_jobs(gray, o.retries_per_frame, weak_allowed=o.first_frame_weak_retries)

    def _unchanged(self, cells: np.ndarray) -> bool:
        if self._cells is None or self._cells.shape != cells.shape:
            return False
        # Compared with the scene the answer belongs to, not the previous frame, so a slow
        # drift still counts as a change once it adds up.
        return float(np.mean(np.abs(cells - self._cells))) < self.options.change_threshold

    def _plan(self, gray: np.ndarray, regions: list[Region], strong: bool) -> list[_Job]:
        jobs: list[_Job] = []
        for region in regions:
            angle, coherence = pp.bar_texture(pp.crop(gray, region, margin=0.0)[0])
            region = replace(region, angle=angle, coherence=coherence)
            retries = _BARS_RETRIES if coherence >= _BARS_COHERENCE else _SQUARE_RETRIES
            jobs.extend(_Job(region, retry, False, strong) for retry in retries)
            if self._crop_zbar is not None:
                jobs.append(_Job(region, retries[0], True, strong))
        # Bar-like regions first: they are rarely text, and a turned label is the commonest miss.
        jobs.sort(key=lambda j: (not j.strong, j.region.coherence < _BARS_COHERENCE))
        return jobs

    def _run_jobs(self, gray: np.ndarray, budget: int, weak_allowed: int) -> list[Symbol]:
        while budget > 0 and self._jobs:
            if not self._jobs[0].strong:
                if weak_allowed <= 0:
                    break
                weak_allowed -= 1
            budget -= 1
            symbols = self._attempt(gray, self._jobs.pop(0))
            if symbols:
                self._last, self._jobs = symbols, []
                return list(symbols)
        return []

    def _attempt(self, gray: np.ndarray, job: _Job) -> list[Symbol]:
        patch, x0, y0 = pp.crop(gray, job.region)
        image, back = job.retry(patch, job.region)
        decoder = self._crop_zbar if job.zbar and self._crop_zbar is not None else self._crop_zxing
        return [
            Symbol(
                s.text,
                s.format,
                tuple(
                    (int(round(px + x0)), int(round(py + y0)))
                    for px, py in (back(x, y) for x, y in s.polygon)
                ),
            )
            for s in decoder.decode(image)
        ]


def make_decoder(name: str = "pipeline") -> Decoder:
    """Build a decoder by name: "pipeline" (default), "zxing" or "pyzbar"."""
    if name == "pipeline":
        return PipelineDecoder()
    if name == "zxing":
        return ZxingDecoder()
    if name == "pyzbar":
        return PyzbarDecoder()
    raise ValueError(f"unknown decoder {name!r}; expected pipeline, zxing or pyzbar")
