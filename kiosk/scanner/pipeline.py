"""The default decoder: zxing-cpp on the frame, then bounded attempts where a code seems to be.

Per frame: zxing-cpp on the whole frame (QR; Code128 on every 4th row); if it reads
nothing, one cheap map of the frame (kiosk/scanner/locate.py) points at bar areas, at any
angle, and at module areas; each gets a few targeted attempts, best first (on a new
scene's first frame the first way at each bar area and one module crop; then up to
`attempts_per_frame`):

- bars: the area turned upright and enlarged 2x across the bars in one warp, its local
  contrast lifted along the strip or each row stretched between its local darkest and
  lightest (glare), averaged along the bars (noise) and sharpened across them (blur),
  read as Code128 only; parts of one label split by glare are joined first; as a bar
  area's third way, a longer strip whose profile Code128's symbols are fitted to, for bars
  too thin for zxing's run lengths (kiosk/scanner/bar_fit.py, code128_fit.py);
- modules (and QR codes zxing located but could not read): the crop sharpened and
  enlarged 2-2.5x (cubic), read as QR only, inverted too (dark mode);
- on a frame of a code held in view (a place was found on the frame before too and not
  read), after the first attempts: the same ways on the place combined with the earlier
  frames' (aligned, kiosk/scanner/fuse.py), which lowers the noise and takes modules
  washed out by glare on one frame from another;
- wherever zxing locates a QR code it cannot read (whole frame or any attempt): its grid
  sampled again, with this code's samples from earlier frames, and decoded with its least
  reliable codewords erased (kiosk/scanner/qr_grid.py, qr_repair.py).

While the scene stays still the attempts not yet made go on on the next frames, and a
scene that was read keeps its answer without decoding again. Every stage is timed
(`last_timings`), so the bench can state the cost of each against zxing-cpp's own."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from kiosk.scanner import bar_fit, fuse, locate
from kiosk.scanner import preprocess as pp
from kiosk.scanner.located import GridRepair, map_points
from kiosk.scanner.readers import Miss, Point, Symbol, ZxingDecoder

# An attempt turns the frame into one image to read and the 2x3 map from its pixels back to
# the frame's (None: nothing to read, e.g. no earlier frame fitted for a fused attempt).
Prepare = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray] | None"]


@dataclass(frozen=True)
class PipelineOptions:
    """What the pipeline does; each stage can be switched off to measure what it buys."""

    change: bool = True  # a still scene keeps its answer and goes on with untried attempts
    change_threshold: float = 2.0  # mean grey-level change per 16x16 cell that counts as motion
    # zxing tries inverted (dark-mode) codes on the whole frame: off, since on a frame with
    # no code it adds ~40% to that pass (0.05x of zxing's default cost); dark-mode codes
    # are read by the module crops, whose reader tries inverted too.
    primary_invert: bool = False
    # Code128 on the whole frame is read on every `primary_row_step`-th row only (0: not on
    # the whole frame at all, only in bar areas). A 1-D code needs its rows, not all of
    # them: a label's bars are 50+ px tall at 640x480, and zxing-cpp scans every row of
    # what it is given, which made Code128 60% of the whole-frame pass on a frame with no
    # code. QR codes are read on every row.
    primary_row_step: int = 4
    misses: bool = True  # attempts where zxing located a QR code but could not read it
    bars: bool = True  # bar areas at any angle, read upright
    squares: bool = True  # module areas, read enlarged
    deblur: bool = True  # bars: sharpen across the averaged strip (off: averaged only)
    sharpen: bool = True  # modules: unsharp mask before enlarging (off: enlarge only)
    # Bounded so the worst frame stays within the budget (docs/performance.md): each attempt
    # costs a fraction of a whole-frame zxing pass.
    attempts_per_frame: int = 3
    # ...but on the first frame of a new scene only this many module crops (the dear
    # attempts: an enlarged crop) besides the first way at each bar area (a small strip):
    # most new scenes hold no code (a passer-by, a bag), and a code-like area still there
    # on the next frame gets the full budget then (a code held up is seen for many frames).
    first_frame_attempts: int = 1
    # An enlarged module crop is at most this many px a side (a 2.5x crop of a 224 px
    # code): 560 read as much as 720 on the tuning seeds (2 more hard QR of 60) for 60% of
    # the pixels.
    max_side: int = 560
    # No new attempt after this long on one frame (what is left goes on with the next still
    # frame). Never reached on the x86 bench machine (worst frame ~10 ms); on a Pi 4 core,
    # 3-8x slower, it keeps the worst frame near a 15 fps camera's 66 ms.
    deadline_ms: float = 40.0
    # A code held in view (a place found and not read on the frame before too): its places
    # on up to two earlier frames aligned and combined with this one's, read in the usual
    # ways, up to this many attempts after the first `attempts_per_frame` (0: none). Only
    # on such frames: a new scene's first frame, a still scene and a frame with no place
    # pay nothing for it.
    fused_attempts: int = 4
    # ...on this many frames in a row after the first with a place (the 2nd and 3rd), then
    # not again until a code is read or no place is left: a gate facing a noisy empty scene
    # whose frames count as changed (low light, gain) pays for it twice, not on every frame.
    fused_frames: int = 2
    # A QR code zxing located in an attempt's image but could not read: its grid sampled again
    # with each module's reliability, the least reliable codewords erased and corrected
    # (kiosk/scanner/qr_grid.py, qr_repair.py). Glare clips modules to white: zxing counts
    # them as errors, Reed-Solomon corrects twice as many erasures.
    repair: bool = True
    # Bars too thin for zxing's run lengths (1.2-2 px a module): Code128's symbols fitted to a
    # long strip's profile (kiosk/scanner/bar_fit.py, code128_fit.py), as a bar area's way.
    fit_bars: bool = True


@dataclass(frozen=True)
class _Attempt:
    stage: str  # "bars", "fit", "squares", "misses" or "fused": the timing and ablation key
    prepare: Prepare
    reader: ZxingDecoder
    first_way: bool = False  # the first way tried at its place on this frame


@dataclass(frozen=True)
class _Place:
    """Where a code may be: its ways of reading, best first, and its box in the frame."""

    ways: list[_Attempt]
    box: tuple[int, int, int, int]
    modules: bool  # a QR-like area (else bars)


_IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _frame(image: np.ndarray) -> np.ndarray | None:
    # The camera gives 640x480 uint8; other callers (the enroll scanner, tests) may not: a
    # one-channel 3-D array or a float frame is converted, a frame too small to hold a code
    # read as empty, so no input stops the gate's camera loop.
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 32:
        return None
    if image.dtype != np.uint8:
        image = np.clip(np.nan_to_num(image), 0, 255).astype(np.uint8)
    return image


def _map_back(symbols: list[Symbol], back: np.ndarray) -> list[Symbol]:
    return [Symbol(s.text, s.format, map_points(s.polygon, back)) for s in symbols]


def _bars(candidate: locate.Candidate, way: tuple[int, float, float, int, int], deblur: bool) -> Prepare:
    points = np.array(candidate.points, np.float64)
    along, sigma, amount, tiles, envelope = way

    def prepare(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        strip, back = pp.bar_strip(gray, candidate.angle, points)
        if tiles and deblur:
            strip = pp.stretch(strip, (tiles, 1))
        step = 2  # every other averaged row: half the rows to scan, one hard label in 60 lost
        image = pp.deblur_across(strip, along, sigma, amount if deblur else 0.0, step,
                                 envelope if deblur else 0)
        return image, back @ np.diag([1.0, float(step), 1.0])

    return prepare


# Bars: (rows averaged along the bars, sigma and weight of the sharpening across them,
# tiles along the strip for local contrast, 0 for none; px across the strip for each row's
# own darkest-to-lightest stretch, 0 for none). The local contrast (CLAHE) lifts bars that
# glare or shade left at a few grey levels; chosen on seeds 1 and 2 (2 x 30 hard labels:
# 29 read with the plain first way, 35 with it). The stretch (second way, so a held label
# gets it on its second frame) lifts the bars a glare left 20-50 grey levels below white,
# which CLAHE's tiles, a quarter of the strip long, do not: of the 16 labels held for 3
# frames that no way read on seeds 1 and 2, it reads 5 (window chosen there: 25-61 px).
ENVELOPE = 61
FIT_WAY = 2  # where the fit goes among a bar area's ways
_BAR_WAYS = ((9, 2.0, 2.0, 4, 0), (15, 2.0, 2.0, 0, ENVELOPE), (15, 2.0, 2.0, 8, 0), (25, 2.0, 2.0, 0, 0),
             (5, 2.0, 1.0, 0, 0))


def _modules(box: tuple[int, int, int, int], sharpen: bool, max_side: int, stretch: bool = False) -> Prepare:
    x, y, w, h = box

    def prepare(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A margin for the quiet zone; the crop of a tilted phone is mostly the code.
        mx, my = w // 4 + 8, h // 4 + 8
        x0, y0 = max(0, x - mx), max(0, y - my)
        patch = gray[y0 : y + h + my, x0 : x + w + mx]
        if stretch:  # local contrast for glare and low light
            patch = pp.stretch(patch)
        factor = float(np.clip(max_side / max(patch.shape), 1.0, 2.5))
        image = pp.sharpen_up(patch, factor) if sharpen else pp.upscale(patch, factor)
        return image, np.array([[1 / factor, 0, x0], [0, 1 / factor, y0]])

    return prepare


def _polygon_box(polygon: tuple[Point, ...]) -> tuple[int, int, int, int]:
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1


class PipelineDecoder:
    """zxing-cpp on the whole frame, then bounded attempts where a code seems to be.

    Stateful across the frames of one camera: while the scene stays still it keeps the
    answer it read, or goes on with the attempts it has not made yet.
    """

    def __init__(self, options: PipelineOptions | None = None) -> None:
        self.options = options or PipelineOptions()
        invert = self.options.primary_invert
        self._primary = ZxingDecoder(try_rotate=False, try_downscale=False, try_invert=invert, formats=("qr",))
        self._primary_bars = ZxingDecoder(try_rotate=False, try_downscale=False, try_invert=invert,
                                          formats=("code128",))
        # The crops are upright and enlarged already: no rotated or smaller copies needed.
        self._qr = ZxingDecoder(try_rotate=False, try_downscale=False, try_invert=True, formats=("qr",))
        self._code128 = ZxingDecoder(try_rotate=False, try_downscale=False, try_invert=False, formats=("code128",))
        self._fit = bar_fit.FitReader()
        # A fused module area is levelled to 0-255 throughout (fuse.py): one threshold for the
        # whole crop then suits it, and read 1 more held code a tuning seed under a fixed lamp.
        self._qr_global = ZxingDecoder(try_rotate=False, try_downscale=False, try_invert=True, binarizer="global",
                                       formats=("qr",))
        self.last_timings: dict[str, float] = {}
        self._gray: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the previous scene (call when the camera or its settings change)."""
        self._cells: np.ndarray | None = None
        self._last: list[Symbol] = []
        self._todo: list[_Attempt] = []
        self._streak = 0
        self._held = fuse.HeldFrames()
        self._repair = GridRepair()
        self._places: list[_Place] = []  # where the last plan looked

    def decode(self, gray: np.ndarray) -> list[Symbol]:
        """Return the QR and Code128 symbols read in a grey or BGR frame."""
        o = self.options
        timings: dict[str, float] = {}
        self.last_timings = timings
        start = time.perf_counter()
        self._repair.new_call()
        gray = _frame(gray)
        if gray is None:
            return []
        if gray.ndim == 3:
            # Into the same buffer each frame: a fresh 300 KB image faults its pages in anew.
            if self._gray is None or self._gray.shape != gray.shape[:2]:
                self._gray = np.empty(gray.shape[:2], np.uint8)
            gray = pp.luma(gray, self._gray)
        cells = locate.cell_means(gray) if o.change else None
        if cells is not None and self._unchanged(cells):
            timings["change"] = _ms(start)
            if self._last or not self._todo:
                return list(self._last)
            # No fusion on a still frame: a gate facing a poster would pay for it (with it,
            # frames 2-5 of still empty scenes cost a mean 1.6x zxing's against 0.49x), and
            # it read no more held codes on the tuning seeds.
            return self._run(gray, timings, start, o.attempts_per_frame)
        self._cells, self._last, self._todo = cells, [], []
        self._repair.new_frame()
        timings["change"] = _ms(start)

        begin = time.perf_counter()
        symbols, misses = self._primary.read(gray)
        if not symbols and o.primary_row_step:
            step = o.primary_row_step
            rows = np.diag([1.0, float(step), 1.0])[:2]
            symbols = _map_back(self._primary_bars.decode(gray[::step]), rows)
        timings["primary"] = _ms(begin)
        if not symbols and o.repair and misses:
            begin = time.perf_counter()
            symbols = self._repair.read(gray, misses, _IDENTITY)
            timings["repair"] = _ms(begin)
        if symbols:
            self._last, self._streak = symbols, 0
            self._forget_held()
            return list(symbols)
        begin = time.perf_counter()
        fresh = self._streak == 0
        self._todo = self._plan(gray, misses, cells)
        extra = self._add_fused(gray)  # none on a fresh scene: no frame held yet
        timings["locate"] = _ms(begin)
        if fresh:
            return self._run(gray, timings, start, o.first_frame_attempts, free_bars=True)
        return self._run(gray, timings, start, o.attempts_per_frame + extra)

    def _unchanged(self, cells: np.ndarray) -> bool:
        if self._cells is None or self._cells.shape != cells.shape:
            return False
        # Compared with the scene the answer belongs to, not the previous frame, so a slow
        # drift still counts as a change once it adds up.
        return float(np.mean(np.abs(cells - self._cells))) < self.options.change_threshold

    def _plan(self, gray: np.ndarray, misses: list[Miss], means: np.ndarray | None) -> list[_Attempt]:
        o = self.options
        # Per place, its ways of reading, best first. A code held in view moves a little from
        # frame to frame, so each frame is a new scene; `_streak` (frames in a row with a
        # place but no read) starts the next frame at the next way, so a held code gets
        # every way within a few frames instead of the first way again and again.
        spots: list[_Place] = []
        if o.misses:
            for miss in misses[:2]:
                if miss.format == "qr":
                    box = _polygon_box(miss.polygon)
                    spots.append(_Place(self._square_ways(box, "misses"), box, True))
        if o.bars or o.squares:
            for c in locate.candidates(gray, means, max_bars=2 if o.bars else 0, max_squares=2 if o.squares else 0):
                box = (c.x, c.y, c.w, c.h)
                if c.shape == "bars":
                    ways = [_Attempt("bars", _bars(c, way, o.deblur), self._code128) for way in _BAR_WAYS]
                    if o.fit_bars:
                        ways.insert(FIT_WAY, _Attempt("fit", bar_fit.prepare(c), self._fit))
                    spots.append(_Place(ways, box, False))
                else:
                    spots.append(_Place(self._square_ways(box, "squares"), box, True))
        plan = _interleave([p.ways for p in spots], self._streak)
        self._streak = self._streak + 1 if spots else 0
        self._places = spots
        if not spots:
            self._forget_held()
        return plan

    def _add_fused(self, gray: np.ndarray) -> int:
        """Put the places' ways on this frame fused with the held frames into the todo, after
        the first `attempts_per_frame`; keep this frame; return the attempts added."""
        o = self.options
        # `_streak` is 1 on the first frame with a place: fused on the next `fused_frames`.
        if not (o.fused_attempts and self._places) or self._streak > 1 + o.fused_frames:
            return 0
        earlier = list(self._held.frames)
        fused = _interleave([self._fused_ways(p, earlier) for p in self._places], 0) if earlier else []
        self._todo[o.attempts_per_frame : o.attempts_per_frame] = fused
        self._held.add(gray)
        return min(len(fused), o.fused_attempts)

    def _fused_ways(self, place: _Place, earlier: list[np.ndarray]) -> list[_Attempt]:
        # The place's ways of reading, each on the frame with that place fused with the earlier
        # frames'; the fusion (alignment is most of its cost) is made once for all of them.
        made: dict[str, np.ndarray | None] = {}

        def source(gray: np.ndarray) -> np.ndarray | None:
            if "image" not in made:
                made["image"] = fuse.fused(gray, earlier, place.box, place.modules)
            return made["image"]

        def on_fused(prepare: Prepare) -> Prepare:
            def fused_prepare(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
                image = source(gray)
                return None if image is None else prepare(image)

            return fused_prepare

        ways = [replace(way, stage="fused", prepare=on_fused(way.prepare)) for way in place.ways]
        if place.modules:
            ways.append(replace(ways[0], reader=self._qr_global))
        return ways

    def _forget_held(self) -> None:
        self._held.clear()
        self._repair.forget()

    def _square_ways(self, box: tuple[int, int, int, int], stage: str) -> list[_Attempt]:
        o = self.options
        return [_Attempt(stage, _modules(box, sharpen, o.max_side, stretch), self._qr)
                for sharpen, stretch in ((o.sharpen, False), (o.sharpen, True), (not o.sharpen, False))]

    def _run(self, gray: np.ndarray, timings: dict[str, float], start: float, budget: int,
             free_bars: bool = False) -> list[Symbol]:
        while self._todo and budget > 0 and _ms(start) <= self.options.deadline_ms:
            attempt = self._todo.pop(0)
            begin = time.perf_counter()
            prepared = attempt.prepare(gray)
            if prepared is not None:
                if not (free_bars and attempt.first_way and attempt.stage == "bars"):
                    budget -= 1
                image, back = prepared
                symbols, misses = attempt.reader.read(image)
                if not symbols and self.options.repair:
                    symbols = self._repair.read(image, misses, back)
                symbols = _map_back(symbols, back)
            else:
                symbols = []
            timings[attempt.stage] = timings.get(attempt.stage, 0.0) + _ms(begin)
            if symbols:
                self._last, self._todo, self._streak = symbols, [], 0
                self._forget_held()
                return list(symbols)
        return []


def _interleave(places: list[list[_Attempt]], streak: int) -> list[_Attempt]:
    # Each place's first way, then each one's second, ...; starting `streak` ways in.
    plan = []
    for level in range(max((len(p) for p in places), default=0)):
        for ways in places:
            plan.append(replace(ways[(level + streak) % len(ways)], first_way=level == 0))
    return plan


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
