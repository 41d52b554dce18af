"""The camera preview for the volunteer's screen: the newest frame, small, with the
outline of each code read, so people learn where to hold their phone."""
from __future__ import annotations

import cv2
import numpy as np

from kiosk.scanner.decoders import Symbol

OUTLINE = (60, 220, 60)


def preview_jpeg(image: np.ndarray | None, symbols: list[Symbol], width: int = 320,
                 quality: int = 70) -> bytes | None:
    """JPEG bytes of the frame scaled to `width`, codes outlined; None without a frame."""
    if image is None:
        return None
    frame = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    scale = width / frame.shape[1]
    small = cv2.resize(frame, (width, int(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    for s in symbols:
        if len(s.polygon) >= 2:
            pts = (np.array(s.polygon, dtype=np.float32) * scale).astype(np.int32)
            cv2.polylines(small, [pts.reshape(-1, 1, 2)], True, OUTLINE, 3)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None
