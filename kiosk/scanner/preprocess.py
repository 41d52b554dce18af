"""Image helpers for decoding: grey conversions, the code-likeness map, crops and retries."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Side of one gate cell in full-frame pixels: small enough to cover a 1.7 px/module QR code
# with a few cells, large enough that the whole map of a 640x480 frame is 40x30.
CELL = 16


@dataclass(frozen=True)
class Region:
    """A code-like area of the frame: its box in full-frame pixels and its texture."""

    x: int
    y: int
    w: int
    h: int
    score: float
    coherence: float  # 1 = all edges run one way (bars), 0 = every way (QR modules, text)
    angle: float = 0.0  # degrees to rotate a crop so that its bars stand upright


def luma(bgr: np.ndarray) -> np.ndarray:
    """Return the usual luma (ITU-R 601) of a BGR frame."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def ink(bgr: np.ndarray) -> np.ndarray:
    """Return the darkest channel of each pixel, so coloured modules on white read as black.

    Health codes are green, yellow or red on white: luma leaves a green module at ~40% grey,
    while its red (or, for red codes, green; for yellow, blue) channel is near zero and the
    white around it is bright in every channel, so the per-pixel minimum keeps full contrast.
    """
    h, w = bgr.shape[:2]
    # A 1x3 erosion over the interleaved row takes min(B, G, R) at each pixel's middle byte:
    # ~0.15 ms at 640x480, where numpy's min(axis=2) costs ~8 ms.
    flat = cv2.erode(np.ascontiguousarray(bgr).reshape(h, w * 3), np.ones((1, 3), np.uint8))
    return np.ascontiguousarray(flat[:, 1::3])


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return a 2-D frame as is and a BGR frame through `ink`."""
    return ink(image) if image.ndim == 3 else image


def _shrink(image: np.ndarray) -> np.ndarray:
    # Four halvings: OpenCV's 2x area path is ~3x faster than one 16x area resize.
    for _ in range(4):
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return image


def _whole_cells(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    return gray[: h - h % CELL, : w - w % CELL]


def cell_means(gray: np.ndarray) -> np.ndarray:
    """Return the frame averaged over CELL x CELL blocks (float32), the change-detection print."""
    return _shrink(_whole_cells(gray)).astype(np.float32)


def code_regions(
    gray: np.ndarray, min_contrast: float = 10.0, min_density: float = 0.3, max_regions: int = 3
) -> list[Region]:
    """Return the most code-like areas of the frame, best first (~0.3 ms at 640x480)."""
    gray = _whole_cells(gray)
    h, w = gray.shape
    mean = _shrink(gray)
    local = cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)
    # Contrast: mean distance from the local mean; flat areas and sensor noise stay low.
    contrast = _shrink(cv2.absdiff(gray, local)).astype(np.float32)
    # Density: how often a row or column crosses the local mean. Modules of a code at 2-4 px
    # cross every few pixels; a door frame or the phone's edge crosses once per cell.
    dark = cv2.compare(gray, local, cv2.CMP_LT)
    across = cv2.copyMakeBorder(cv2.bitwise_xor(dark[:, 1:], dark[:, :-1]), 0, 0, 0, 1, cv2.BORDER_CONSTANT)
    down = cv2.copyMakeBorder(cv2.bitwise_xor(dark[1:, :], dark[:-1, :]), 0, 1, 0, 0, cv2.BORDER_CONSTANT)
    density = (_shrink(across).astype(np.float32) + _shrink(down).astype(np.float32)) / 255.0
    busy = ((contrast > min_contrast) & (density > min_density)).astype(np.uint8)
    busy = cv2.morphologyEx(busy, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(busy, connectivity=8)
    regions = []
    for i in range(1, count):
        cx, cy, cw, ch, area = (int(v) for v in stats[i])
        # A code at 1.7 px/module still covers about 3x3 cells; less is a word or an edge.
        if area < 5 or cw < 2 or ch < 2:
            continue
        mask = labels == i
        regions.append(
            Region(
                x=cx * CELL,
                y=cy * CELL,
                w=cw * CELL,
                h=ch * CELL,
                score=float((density[mask] * contrast[mask]).sum()),
                coherence=0.0,  # filled in by `bar_texture` for the regions worth a retry
            )
        )
    regions.sort(key=lambda r: r.score, reverse=True)
    return regions[:max_regions]


def bar_texture(gray: np.ndarray) -> tuple[float, float]:
    """Return (rotation in degrees that stands bars upright, coherence 0..1) of a crop."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    sxx, syy, sxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    # Structure tensor: its main axis is the gradient direction, across the bars; coherence
    # says how much of the edge energy runs that one way (bars ~0.6+, QR and text ~0.1).
    coherence = float(np.hypot(sxx - syy, 2 * sxy) / (sxx + syy + 1e-6))
    return float(0.5 * np.degrees(np.arctan2(2 * sxy, sxx - syy))), coherence


def crop(gray: np.ndarray, region: Region, margin: float = 0.5) -> tuple[np.ndarray, int, int]:
    """Return the region plus a margin (codes need their quiet zone) and its top-left corner."""
    h, w = gray.shape
    mx, my = int(region.w * margin) + 2 * CELL, int(region.h * margin) + 2 * CELL
    x0, y0 = max(0, region.x - mx), max(0, region.y - my)
    x1, y1 = min(w, region.x + region.w + mx), min(h, region.y + region.h + my)
    return gray[y0:y1, x0:x1], x0, y0


def upscale(gray: np.ndarray, factor: float) -> np.ndarray:
    """Return the image enlarged with cubic interpolation, which keeps thin modules apart."""
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


def stretch(gray: np.ndarray, tiles: tuple[int, int] = (4, 4), clip: float = 2.0) -> np.ndarray:
    """Return the image with local contrast equalised (CLAHE, `tiles` across x down): lifts
    glare and low light."""
    return cv2.createCLAHE(clipLimit=clip, tileGridSize=tiles).apply(gray)


def sharpen(gray: np.ndarray) -> np.ndarray:
    """Return the image with an unsharp mask, which separates blurred modules."""
    blurred = cv2.GaussianBlur(gray, (0, 0), 1.5)
    return cv2.addWeighted(gray, 2.0, blurred, -1.0, 0)


def rotate(gray: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the image rotated about its centre (canvas grown to fit) and the inverse map."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    # Replicate the border so the added corners do not draw hard edges next to the code.
    out = cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, cv2.invertAffineTransform(m)


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


def deblur_across(strip: np.ndarray, along: int, sigma: float, amount: float) -> np.ndarray:
    """Return an upright bar strip averaged along the bars and sharpened across them.

    Averaging `along` rows of the same bars cuts the noise by sqrt(along); the unsharp mask
    across them (Gaussian `sigma` px, weight `amount`) undoes some of the lens and JPEG blur
    that leaves a one-module bar at a tenth of the contrast of a wide one.
    """
    flat = cv2.blur(strip, (1, along)).astype(np.float32)
    soft = cv2.GaussianBlur(flat, (0, 0), sigmaX=sigma, sigmaY=0.1)
    return np.clip(flat * (1 + amount) - soft * amount, 0, 255).astype(np.uint8)


def sharpen_up(gray: np.ndarray, factor: float = 2.0, sigma: float = 1.0, amount: float = 0.6) -> np.ndarray:
    """Return the image sharpened (unsharp mask) and enlarged with cubic interpolation.

    For QR codes of 2-3 px modules: zxing's binarizer then sees 4-6 px modules with
    steeper edges. Measured better than enlarging alone, or enlarging then sharpening.
    """
    soft = cv2.GaussianBlur(gray, (0, 0), sigma)
    return upscale(cv2.addWeighted(gray, 1 + amount, soft, -amount, 0), factor)
