"""QR codes zxing-cpp located but could not read, read from their grids repaired.

The pipeline hands over every miss it meets on a frame (the whole frame's, each attempt's):
a model 2 code's grid is sampled again (kiosk/scanner/qr_grid.py), decided with the same
code's samples from the frames before, and decoded with its least reliable codewords erased
(kiosk/scanner/qr_repair.py).
"""

from __future__ import annotations

import numpy as np

from kiosk.scanner import qr_grid, qr_repair
from kiosk.scanner.readers import Miss, Point, Symbol, read_clean_qr

MIN_FIT = 0.5  # correlation of a located grid's fixed modules with the standard's
# Every code the system issues is version 8-11 (docs/codes.md). From version 7 a code also
# carries its version twice (checked by the repair); below it zxing "locates" phantom codes
# in neighbouring codes' finder patterns (a poster of small codes gave 71 a frame). Above 15 a
# repair costs a Pi 4 a frame's time (version 40: ~45-57 ms here). A code outside is read as
# zxing reads it.
VERSIONS = range(7, 16)
PER_FRAME = 2  # the pipeline's deadline is checked between attempts, not inside one


def map_points(points: tuple[Point, ...], back: np.ndarray) -> tuple[Point, ...]:
    """Points of an attempt's image in the frame's pixels (`back`: the 2x3 map)."""
    return tuple((int(round(back[0, 0] * x + back[0, 1] * y + back[0, 2])),
                  int(round(back[1, 0] * x + back[1, 1] * y + back[1, 2]))) for x, y in points)


class GridRepair:
    """Per camera: the grids held from earlier frames and this frame's budget of repairs."""

    def __init__(self) -> None:
        self._grids = qr_grid.HeldGrids()
        self._left = PER_FRAME

    def new_frame(self) -> None:
        """A changed frame: the held grids age by one."""
        self._grids.next_frame()

    def new_call(self) -> None:
        """Each decode (a still frame too) may repair up to PER_FRAME codes."""
        self._left = PER_FRAME

    def forget(self) -> None:
        self._grids.clear()

    def read(self, image: np.ndarray, misses: list[Miss], back: np.ndarray) -> list[Symbol]:
        """The first miss read by its repaired grid (in `image`'s pixels), or nothing. Only a
        model 2 code of a repaired version, and only where the standard's fixed modules fit
        the grid found (else the corners are not a code's)."""
        for miss in misses:
            if (miss.format != "qr" or miss.version not in VERSIONS or len(miss.polygon) != 4
                    or self._left <= 0):
                continue
            self._left -= 1
            sample = qr_grid.levelled(image, np.float32(miss.polygon), miss.version)
            if abs(sample.fit) < MIN_FIT:
                continue
            (x0, y0), (x1, y1) = map_points(miss.polygon, back)[::2]
            centre, side = ((x0 + x1) / 2, (y0 + y1) / 2), float(np.hypot(x1 - x0, y1 - y0)) / 1.4
            earlier = self._grids.earlier(miss.version, centre, side)
            fixed = qr_repair.repair(*qr_grid.decide([sample, *earlier]))
            text = None if fixed is None else read_clean_qr(fixed)
            if text is not None:
                return [Symbol(text, "qr", miss.polygon)]
            self._grids.add(miss.version, centre, side, sample)
        return []
