"""A courier's waybill too thin for zxing, held at the gate's camera, is read by the pipeline
fitting Code128's symbols to a long strip across its bars (kiosk/scanner/bar_fit.py); not
without that way; and a label of random bars held in view is never read as a code."""

import cv2
import numpy as np

from demo import code128
from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions
from kiosk.scanner.readers import ZxingDecoder

WAYBILL = "YT1421913756212"


def label_frame(bars: np.ndarray, px: float, turn: float, keystone: float, glare: float, shot: int) -> np.ndarray:
    """A 640x480 grey frame of a white label with `bars` (grey, 4 px a module) at `px` px a
    module, turned `turn` degrees, its far end `keystone` narrower (turned away), a lamp's
    reflection `glare` grey levels bright left of its middle, blurred, with sensor noise; the
    hand moves it a few px each `shot`."""
    label = np.pad(bars.astype(np.float32), ((40, 60), (30, 30)), constant_values=255) * 0.93
    h, w = label.shape
    scale = px / 4
    cx, cy = 320 + 3 * shot, 240 - 2 * shot
    c, s = np.cos(np.radians(turn)), np.sin(np.radians(turn))
    half = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]]) * scale
    half[1:3, 1] *= 1 - keystone
    half[1:3, 0] *= 1 - keystone / 2
    quad = half @ np.array([[c, s], [-s, c]]) + [cx, cy]
    hom = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), np.float32(quad))
    mask = cv2.warpPerspective(np.ones_like(label), hom, (640, 480), flags=cv2.INTER_AREA)
    frame = 90 * (1 - mask) + cv2.warpPerspective(label, hom, (640, 480), flags=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    frame += glare * np.exp(-((xx - cx + 60) ** 2 + (yy - cy) ** 2) / (2 * 45.0**2))
    frame = cv2.GaussianBlur(frame, (0, 0), 0.9)
    frame += np.random.default_rng(shot).standard_normal(frame.shape).astype(np.float32) * 4.0
    return np.clip(frame, 0, 255).astype(np.uint8)


def waybill(px: float, turn: float = 0.0, keystone: float = 0.0, glare: float = 0.0) -> list[np.ndarray]:
    bars = code128.render(WAYBILL, module_px=4, height_px=90, quiet=12)
    return [label_frame(bars, px, turn, keystone, glare, shot) for shot in range(3)]


def first_read(frames: list[np.ndarray], fit: bool) -> int | None:
    # No per-frame deadline: a loaded test machine must not decide what is read.
    decoder = PipelineDecoder(PipelineOptions(deadline_ms=float("inf"), fit_bars=fit))
    return next((k for k, f in enumerate(frames) if WAYBILL in [s.text for s in decoder.decode(f)]), None)


def test_a_thin_waybill_held_up_is_read_by_its_second_frame_only_by_the_fit():
    frames = waybill(px=1.5)
    assert not any(ZxingDecoder().decode(f) for f in frames)
    assert first_read(frames, fit=False) is None
    assert first_read(frames, fit=True) == 1


def test_a_thin_waybill_turned_away_under_a_lamp_is_read_only_by_the_fit():
    frames = waybill(px=1.5, turn=35, keystone=0.25, glare=200)
    assert first_read(frames, fit=False) is None
    assert first_read(frames, fit=True) is not None


def test_a_label_of_random_bars_held_in_view_reads_nothing():
    rng = np.random.default_rng(5)
    for px in (1.5, 2.0):
        widths = rng.integers(1, 5, 120)
        row = np.concatenate([np.full(w, (i + 1) % 2, np.uint8) for i, w in enumerate(widths)])
        bars = np.repeat(np.tile(np.where(np.pad(row, 12) == 1, 0, 255).astype(np.uint8), (90, 1)), 4, axis=1)
        decoder = PipelineDecoder(PipelineOptions(deadline_ms=float("inf")))
        for shot in range(3):
            assert decoder.decode(label_frame(bars, px, 20.0, 0.1, 0.0, shot)) == []
