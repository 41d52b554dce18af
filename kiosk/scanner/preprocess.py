"""Image helpers for decoding: grey, enlarging, sharpening, local contrast, upright bar strips."""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.scanner.locate import CELL


def luma(bgr: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return the usual luma (ITU-R 601) of a BGR frame (into `out` when given, of its shape).

    Measured better than the darkest channel for green, yellow and red codes: camera and JPEG
    chroma is half resolution and noisier, which costs more than the extra contrast gains.
    """
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY, dst=out)


def upscale(gray: np.ndarray, factor: float) -> np.ndarray:
    """Return the image enlarged with cubic interpolation, which keeps thin modules apart."""
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


def stretch(gray: np.ndarray, tiles: tuple[int, int] = (4, 4), clip: float = 2.0) -> np.ndarray:
    """Return the image with local contrast equalised (CLAHE, `tiles` across x down): lifts
    glare and low light."""
    return cv2.createCLAHE(clipLimit=clip, tileGridSize=tiles).apply(gray)


def sharpen_up(gray: np.ndarray, factor: float = 2.0, sigma: float = 1.0, amount: float = 0.6) -> np.ndarray:
    """Return the image sharpened (unsharp mask) and enlarged with cubic interpolation.

    For QR codes of 2-3 px modules: zxing's binarizer then sees 4-6 px modules with
    steeper edges. Measured better than enlarging alone, or enlarging then sharpening.
    """
    soft = cv2.GaussianBlur(gray, (0, 0), sigma)
    return upscale(cv2.addWeighted(gray, 1 + amount, soft, -amount, 0), factor)


def bar_strip(
    gray: np.ndarray, angle: float, points: np.ndarray, scale: float = 2.0, pad: float = 0.12
) -> tuple[np.ndarray, np.ndarray]:
    """Return the bars' area turned so the bars stand upright, enlarged across them.

    `angle` is the direction across the bars (radians), `points` the (n, 2) frame pixels the
    bars cover. The strip is `scale` times wider than the bars in the frame and as tall; it
    ends `pad` of its length (plus a few px) beyond the bars, for the quiet zones. Returns
    the strip and the affine map from strip pixels back to frame pixels.
    """
    c, s = float(np.cos(angle)), float(np.sin(angle))
    turn = np.array([[c, s], [-s, c]])
    along = points @ turn.T
    lo, hi = along.min(0) - CELL / 2, along.max(0) + CELL / 2
    length = hi[0] - lo[0]
    lo[0] -= length * pad + 12
    hi[0] += length * pad + 12
    m = np.array([[c * scale, s * scale, -lo[0] * scale], [-s, c, -lo[1]]], np.float32)
    size = (int((hi[0] - lo[0]) * scale), max(8, int(hi[1] - lo[1])))
    # Cubic keeps narrow bars apart when enlarging; the corners outside the frame repeat
    # the border so they draw no hard edge beside the code.
    strip = cv2.warpAffine(gray, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return strip, cv2.invertAffineTransform(m)


def deblur_across(strip: np.ndarray, along: int, sigma: float, amount: float, step: int = 1,
                  envelope: int = 0) -> np.ndarray:
    """Return an upright bar strip averaged along the bars and sharpened across them.

    Averaging `along` rows of the same bars cuts the noise by sqrt(along); the unsharp mask
    across them (Gaussian `sigma` px, weight `amount`) undoes some of the lens and JPEG blur
    that leaves a one-module bar at a tenth of the contrast of a wide one. Only every
    `step`-th averaged row is kept: neighbours of an average carry little more, and the
    reader then scans fewer rows. With `envelope` (px across the bars) each row is first
    stretched between its local darkest and lightest (`level_across`).
    """
    flat = cv2.blur(strip, (1, along))[::step]
    flat = level_across(flat, envelope) if envelope else flat.astype(np.float32)
    soft = cv2.GaussianBlur(flat, (0, 0), sigmaX=sigma, sigmaY=0.1)
    return np.clip(flat * (1 + amount) - soft * amount, 0, 255).astype(np.uint8)


def envelope(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high), float32: the local darkest and lightest over `width` x `height` px,
    smoothed as wide (what levelling a bar strip or a fused crop stretches between)."""
    kernel = np.ones((height, width), np.uint8)
    high = cv2.blur(cv2.dilate(image, kernel), (width, height)).astype(np.float32)
    low = cv2.blur(cv2.erode(image, kernel), (width, height)).astype(np.float32)
    return low, high


def level_across(rows: np.ndarray, window: int, floor: float = 6.0) -> np.ndarray:
    """Return the rows (float32) stretched to 0-255 between their local darkest and lightest.

    The envelope is the min and max over `window` px across the bars (wider than the widest
    bar and space, 4 modules), smoothed as wide: under glare that lifts a part of a label to
    a few grey levels below white, the bars there are stretched as dark as elsewhere. A
    local range under `floor` grey levels (a quiet zone, plain paper) is not lifted into noise.
    """
    low, high = envelope(rows, window, 1)
    return (rows.astype(np.float32) - low) / np.maximum(high - low, floor) * 255.0
