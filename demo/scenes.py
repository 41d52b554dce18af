"""Simulated camera frames: codes shown on a phone screen, written as a folder of images
that the kiosk's file camera plays (demo, tests, the gate-loop bench). Simple on
purpose: the decoder's hard cases live in bench/decode; these must read reliably."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import segno

SIZE = (640, 480)
GREEN_INK = (80, 170, 0)


def phone_frame(text: str | None, ink=(20, 20, 20), module_px: int = 4) -> np.ndarray:
    """A 640x480 BGR frame: grey background, a phone screen, the QR of `text` on it."""
    frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    cv2.rectangle(frame, (170, 20), (470, 460), (245, 245, 245), -1)  # the screen
    if text is not None:
        matrix = np.array([list(row) for row in segno.make(text, error="m",
                                                              boost_error=False).matrix],
                          dtype=bool)
        n = matrix.shape[0]
        side = n * module_px
        x0, y0 = (SIZE[0] - side) // 2, (SIZE[1] - side) // 2
        big = np.kron(matrix, np.ones((module_px, module_px), dtype=bool))
        region = frame[y0:y0 + side, x0:x0 + side]
        region[big] = ink
    return frame


def write_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.png"), frame)
    return folder


def showing(*texts: str, frames_each: int = 3, gap: int = 2, tail: int = 4) -> list[np.ndarray]:
    """A person holding up each code in turn, with empty frames between and after."""
    blank = phone_frame(None)
    out: list[np.ndarray] = []
    for text in texts:
        out += [phone_frame(text)] * frames_each + [blank] * gap
    return out + [blank] * tail


def label_frame(waybill: str, module_px: int = 3) -> np.ndarray:
    """A 640x480 BGR frame: a parcel label with the waybill's Code128, on cardboard."""
    from demo import code128
    frame = np.full((SIZE[1], SIZE[0], 3), (90, 140, 180), np.uint8)  # cardboard
    cv2.rectangle(frame, (60, 120), (580, 360), (250, 250, 250), -1)  # the label
    bars = code128.render(waybill, module_px=module_px, height_px=110)
    h, w = bars.shape[:2]
    x0, y0 = (SIZE[0] - w) // 2, 160
    region = frame[y0:y0 + h, x0:x0 + w]
    region[:] = bars[..., None] if bars.ndim == 2 else bars
    return frame
