"""The barcode libraries behind one protocol; the only module that imports pyzbar and zxingcpp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import zxingcpp
from pyzbar import pyzbar

from kiosk.scanner.preprocess import luma

Format = Literal["qr", "code128"]
Point = tuple[int, int]

_ZXING_FORMATS: dict[object, Format] = {
    zxingcpp.BarcodeFormat.QRCode: "qr",
    zxingcpp.BarcodeFormat.Code128: "code128",
}
_ZXING_BY_NAME = {name: fmt for fmt, name in _ZXING_FORMATS.items()}
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


@dataclass(frozen=True)
class Miss:
    """A code zxing located but could not read: its format and outline (full-frame pixels),
    and for a QR code (model 2) whose version zxing read, that version (else 0)."""

    format: Format
    polygon: tuple[Point, ...]
    version: int = 0


def _qr_version(found: zxingcpp.Barcode) -> int:
    # zxing-cpp's QR family includes Micro QR ("M2") and rMQR ("R11x139"): only a plain
    # number is a model 2 code, the kind every health code and pass is.
    version = (found.extra or {}).get("Version", "") if isinstance(found.extra, dict) else ""
    return int(version) if str(version).isdigit() and 1 <= int(version) <= 40 else 0


_PURE = {"formats": zxingcpp.BarcodeFormat.QRCode, "is_pure": True, "try_rotate": False,
         "try_downscale": False, "try_invert": False}


def read_clean_qr(dark: np.ndarray, px: int = 4) -> str | None:
    """Read a QR code's module matrix (True = dark), drawn clean with its quiet zone."""
    image = np.where(np.kron(dark, np.ones((px, px), bool)), 0, 255).astype(np.uint8)
    image = np.pad(image, 4 * px, constant_values=255)
    for found in zxingcpp.read_barcodes(image, **_PURE):
        if found.valid:
            return text_of(found.bytes)
    return None


class ZxingDecoder:
    """zxing-cpp limited to QR and Code128 (or one of them)."""

    def __init__(
        self,
        try_rotate: bool = True,
        try_downscale: bool = True,
        try_invert: bool = True,
        binarizer: str = "local",
        formats: tuple[Format, ...] = ("qr", "code128"),
    ) -> None:
        self._options = {
            "formats": tuple(_ZXING_BY_NAME[f] for f in formats),
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

    def read(self, gray: np.ndarray) -> tuple[list[Symbol], list[Miss]]:
        """Return the symbols read and the codes found but not read (misses)."""
        symbols: list[Symbol] = []
        misses: list[Miss] = []
        for found in zxingcpp.read_barcodes(_as_gray(gray), return_errors=True, **self._options):
            pos = found.position
            corners = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
            polygon = tuple((int(p.x), int(p.y)) for p in corners)
            fmt = _ZXING_FORMATS.get(found.format)
            if fmt is None:
                continue
            # A located code with a checksum or format error is where a retry should look.
            if not found.valid:
                misses.append(Miss(fmt, polygon, _qr_version(found) if fmt == "qr" else 0))
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
