"""OpenCV's QR detectors wrapped as decoders, for comparison only (the kiosk does not use them)."""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.scanner.decoders import Symbol, text_of


class OpenCVQRDecoder:
    """cv2.QRCodeDetector, or cv2.QRCodeDetectorAruco with aruco=True, on the luma of a frame."""

    def __init__(self, aruco: bool = False) -> None:
        self._detector = cv2.QRCodeDetectorAruco() if aruco else cv2.QRCodeDetector()

    def decode(self, gray: np.ndarray) -> list[Symbol]:
        """Return the QR code OpenCV reads, if any."""
        if gray.ndim == 3:
            gray = cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY)
        text, points, _ = self._detector.detectAndDecode(gray)
        if not text or points is None:
            return []
        # OpenCV hands back str; round-trip it so non-UTF-8 payloads are dropped like elsewhere.
        decoded = text_of(text.encode("utf-8", "surrogateescape"))
        if decoded is None:
            return []
        polygon = tuple((int(x), int(y)) for x, y in points.reshape(-1, 2))
        return [Symbol(decoded, "qr", polygon)]


def available() -> dict[str, OpenCVQRDecoder]:
    """Return the OpenCV QR decoders this cv2 build has, by bench name."""
    out = {"opencv-qr": OpenCVQRDecoder()}
    if hasattr(cv2, "QRCodeDetectorAruco"):
        out["opencv-aruco"] = OpenCVQRDecoder(aruco=True)
    return out
