"""A code held in view, read from several frames at once: earlier frames aligned to this one.

A hand holding a phone or a label moves it a few px and turns it a degree or two between
frames, and a lamp's reflection slides across it. The frames of a held code therefore
carry different sensor noise and, under a fixed lamp, different modules washed out by
glare. Where a code is located on a frame that was not read, its area on up to two earlier
frames (kept by `HeldFrames`) is aligned to this frame's (phase correlation, then ECC on
high-passed half-size crops, so the glare's smooth light does not steer the fit) and the
crops are combined:

- modules (QR): each crop levelled between its local darkest and lightest (this removes
  the additive glare where it is not clipped), then averaged weighted by its local
  contrast squared, so a module washed out on one frame is taken from a frame where it
  was not;
- bars (Code128): the plain mean of the aligned crops (less noise); the bar strip's own
  ways of reading (pipeline.py) handle the glare.

The result is a copy of this frame with the code's area replaced, which the pipeline reads
in its usual ways.
"""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.scanner.preprocess import envelope

Box = tuple[int, int, int, int]

# Px a side of the levelling window, about four modules of a hard code (2-2.6 px): a
# window holds dark and light modules. Weight power and contrast floor: chosen on tuning
# seeds 1 and 2 (window 8, 11, 15; power 2, 4).
WINDOW = 11
POWER = 2.0
FLOOR = 6.0
# An earlier crop whose fit to this one is worse than this is left out (the code moved too
# far, or it is not the same scene): the phase correlation's peak, then ECC's correlation
# of the high-passed crops.
MIN_RESPONSE = 0.05
MIN_CORRELATION = 0.3
# The fit is made at this fraction of the size (a third read fewer held codes).
FIT_SCALE = 0.5
_ECC_STOP = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 1e-3)


class HeldFrames:
    """The last frames on which a code seemed to be but was not read (at most `keep`).

    Frames are copied into buffers kept between frames (a fresh 300 KB image faults its
    pages in anew on every frame).
    """

    def __init__(self, keep: int = 2) -> None:
        self.keep = keep
        self._buffers: list[np.ndarray] = []
        self.frames: list[np.ndarray] = []

    def add(self, gray: np.ndarray) -> None:
        """Keep a copy of the frame, dropping the oldest beyond `keep`."""
        if any(b.shape != gray.shape for b in self._buffers):
            self._buffers, self.frames = [], []
        # At most `keep` + 1 buffers: the one written now is one no kept frame is in (the
        # attempts planned on the previous frame, which may hold the dropped one, are gone).
        free = [b for b in self._buffers if not any(b is f for f in self.frames)]
        if free:
            buffer = free[0]
        else:
            buffer = np.empty_like(gray)
            self._buffers.append(buffer)
        np.copyto(buffer, gray)
        self.frames = (self.frames + [buffer])[-self.keep :]

    def clear(self) -> None:
        """Forget the frames (a code was read, or none is in view)."""
        self.frames = []


def _area(box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    margin = max(w, h) // 4 + 10  # the quiet zone and a hand's motion between frames
    return max(0, x - margin), max(0, y - margin), min(shape[1], x + w + margin), min(shape[0], y + h + margin)


def _high_pass(image: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    flat = image.astype(np.float32)
    return flat - cv2.GaussianBlur(flat, (0, 0), sigma)


def aligned(current: np.ndarray, earlier: np.ndarray) -> np.ndarray | None:
    """Return `earlier` (a crop of the same place) warped onto `current`, or None if no fit.

    The fit (phase correlation, then ECC: shift, turn and tilt) is made at half size, on
    high-passed crops: a quarter of the pixels, so 3-4x cheaper, for the same reads on the
    tuning seeds. The crop's margin holds the phone's or label's edge and text, which move
    with the code (fitting on the code's box alone read 4 held codes fewer).
    """
    h, w = current.shape
    small = (max(8, int(w * FIT_SCALE)), max(8, int(h * FIT_SCALE)))
    here, there = (_high_pass(cv2.resize(crop, small, interpolation=cv2.INTER_AREA), 3.0 * FIT_SCALE)
                   for crop in (current, earlier))
    (dx, dy), response = cv2.phaseCorrelate(here, there, cv2.createHanningWindow(small, cv2.CV_32F))
    if response < MIN_RESPONSE:
        return None
    warp = np.float32([[1, 0, dx], [0, 1, dy]])
    try:
        fit, warp = cv2.findTransformECC(here, there, warp, cv2.MOTION_AFFINE, _ECC_STOP, None, 1)
    except cv2.error:  # no convergence: nothing alike to fit
        return None
    if fit < MIN_CORRELATION:
        return None
    warp[:, 2] /= FIT_SCALE
    # Cubic keeps 2 px modules apart; linear blurred them and read one held code fewer.
    return cv2.warpAffine(earlier, warp, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def levelled_blend(crops: list[np.ndarray], window: int = WINDOW, power: float = POWER,
                   floor: float = FLOOR) -> np.ndarray:
    """Return the crops, each levelled between its local darkest and lightest, averaged
    weighted by local contrast to the `power`: glare lifts a crop's dark and light alike
    (levelling removes it) until the light clips (contrast drops, so another crop counts)."""
    total = np.zeros(crops[0].shape, np.float32)
    weights = np.zeros_like(total)
    for crop in crops:
        low, high = envelope(crop, window, window)
        contrast = np.maximum(high - low, floor)
        weight = contrast**power
        total += weight * (crop.astype(np.float32) - low) / contrast
        weights += weight
    return np.clip(total / weights * 255.0, 0, 255).astype(np.uint8)


def fused(gray: np.ndarray, earlier: list[np.ndarray], box: Box, modules: bool) -> np.ndarray | None:
    """Return a copy of `gray` whose area around `box` combines it with the earlier frames'
    (aligned), or None when no earlier frame fits there."""
    x0, y0, x1, y1 = _area(box, gray.shape)
    current = gray[y0:y1, x0:x1]
    crops = [current]
    for frame in earlier:
        if frame.shape == gray.shape:
            crop = aligned(current, frame[y0:y1, x0:x1])
            if crop is not None:
                crops.append(crop)
    if len(crops) == 1:
        return None
    if modules:
        area = levelled_blend(crops)
    else:
        area = np.mean(np.stack(crops), axis=0).round().astype(np.uint8)
    out = gray.copy()
    out[y0:y1, x0:x1] = area
    return out
