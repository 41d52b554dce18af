"""Seeded synthetic camera frames: phone screens with QR codes, parcel labels with Code128, empties."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Literal

import cv2
import numpy as np
import segno

from demo import code128

Kind = Literal["qr", "code128", "empty"]
DIFFICULTIES = ("easy", "medium", "hard")
SIZES = ((640, 480), (1280, 720))
# Scenes per difficulty in a full run; the scenes are drawn in this order, so a run with
# other counts draws other scenes.
FULL_COUNTS = {"qr": 30, "code128": 30, "empty": 20}
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
SUPERSAMPLE = 2  # render at twice the size, then area-downscale: modules blend like a sensor

# Health-code colours in BGR; black stays the most common.
INKS = {
    "black": (20, 20, 20),
    "green": (80, 170, 0),
    "yellow": (0, 190, 235),
    "red": (40, 40, 215),
}


@dataclass(frozen=True)
class Spec:
    """Everything random about one scene except the sensor noise, so it can be re-shot."""

    kind: Kind
    difficulty: str
    truth: str | None
    scene: str  # phone, label, phone-ui, label-text, random-bars, random-modules, background
    module_px: float  # at 640 px width; scaled with the frame
    roll: float
    pitch: float
    yaw: float
    centre: tuple[float, float]  # fraction of the frame
    ink: str = "black"
    dark_mode: bool = False
    blur: float = 0.5
    glare: float = 0.0
    # Where the glare sits against the code: moved this far from its place on the code (code
    # spans, frame axes) and across the frame (frame fractions). Zero unless a held code's
    # hand turns it under a lamp that stays put (`held_under_lamp`).
    glare_shift: tuple[float, float] = (0.0, 0.0)
    glare_pan: tuple[float, float] = (0.0, 0.0)
    moire: float = 0.0
    low_light: float = 1.0
    noise: float = 2.0
    jpeg: int = 90
    seed: int = 0
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Case:
    """One rendered frame with its ground truth."""

    name: str
    spec: Spec
    size: tuple[int, int]
    image: np.ndarray


def qr_payload(rng: np.random.Generator) -> str:
    """Return a health-code-like payload: "GH1:" and 166-256 base45 characters (QR v7-9, M)."""
    n = int(rng.integers(166, 257))
    return "GH1:" + "".join(BASE45[i] for i in rng.integers(0, len(BASE45), n))


def waybill(rng: np.random.Generator) -> str:
    """Return a courier waybill number in one of the common Chinese carrier shapes."""
    digits = lambda n: "".join(str(d) for d in rng.integers(0, 10, n))  # noqa: E731
    shape = int(rng.integers(0, 5))
    if shape == 0:
        return "SF" + digits(13)
    if shape == 1:
        return "YT" + digits(13)
    if shape == 2:
        return "JD" + digits(13) + "-1-1-"
    if shape == 3:
        return "75" + digits(12)
    return "JT" + digits(13)


def _pick(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def draw_spec(rng: np.random.Generator, kind: Kind, difficulty: str) -> Spec:
    """Draw a scene of the given kind and difficulty."""
    level = DIFFICULTIES.index(difficulty)
    tags: list[str] = []
    if kind == "qr":
        truth: str | None = qr_payload(rng)
        scene = "phone"
        module_px = _pick(rng, *[(3.5, 5.5), (2.4, 3.6), (1.9, 2.8)][level])
        roll = _pick(rng, -1, 1) * [8, 25, 45][level]
    elif kind == "code128":
        truth = waybill(rng)
        scene = "label"
        module_px = _pick(rng, *[(2.2, 3.2), (1.7, 2.5), (1.4, 2.1)][level])
        if level == 0:
            roll = _pick(rng, -8, 8)
        elif rng.random() < [0, 0.3, 0.5][level]:
            # Labels tilted 30-45 degrees: the case every plain decoder failed before.
            roll = float(rng.choice([-1, 1])) * _pick(rng, 30, 45)
            tags.append("tilt30-45")
        else:
            roll = _pick(rng, -1, 1) * [8, 20, 25][level]
        if level > 0 and rng.random() < 0.15:
            roll += 90  # parcel held sideways
            tags.append("sideways")
    else:
        truth = None
        scene = str(rng.choice(["phone-ui", "label-text", "random-bars", "random-modules", "background"]))
        module_px = _pick(rng, 1.7, 4.0)
        roll = _pick(rng, -30, 30)
    pitch = _pick(rng, -1, 1) * [8, 20, 30][level]
    yaw = _pick(rng, -1, 1) * [8, 20, 30][level]
    ink, dark = "black", False
    if scene.startswith("phone") and level > 0:
        r = rng.random()
        if r < 0.35:
            ink = str(rng.choice(["green", "green", "yellow", "red"]))
        elif r < 0.55:
            dark = True
    if ink != "black":
        tags.append(f"ink-{ink}")
    if dark:
        tags.append("dark-mode")
    glare = moire = 0.0
    low = 1.0
    if level > 0 and rng.random() < [0, 0.4, 0.6][level]:
        glare = _pick(rng, *[(0, 0), (60, 140), (120, 240)][level])
        tags.append("glare")
    if scene.startswith("phone") and level > 0 and rng.random() < [0, 0.3, 0.5][level]:
        moire = _pick(rng, 0.1, [0, 0.25, 0.4][level])
        tags.append("moire")
    if level > 0 and rng.random() < [0, 0.3, 0.5][level]:
        low = _pick(rng, *[(1, 1), (0.35, 0.6), (0.2, 0.4)][level])
        tags.append("low-light")
    return Spec(
        kind=kind,
        difficulty=difficulty,
        truth=truth,
        scene=scene,
        module_px=module_px,
        roll=roll,
        pitch=pitch,
        yaw=yaw,
        centre=(_pick(rng, 0.35, 0.65), _pick(rng, 0.35, 0.65)),
        ink=ink,
        dark_mode=dark,
        blur=_pick(rng, *[(0.3, 0.6), (0.5, 0.9), (0.7, 1.1)][level]),
        glare=glare,
        moire=moire,
        low_light=low,
        noise=_pick(rng, *[(1.5, 3), (3, 5), (4, 7)][level]),
        jpeg=int(rng.integers(*[(85, 96), (60, 81), (45, 71)][level])),
        seed=int(rng.integers(0, 2**31)),
        tags=tuple(tags),
    )


# ---- objects: the phone screen or the label, drawn flat at a known pixels-per-module ----

PPM = 6  # object pixels per module


def _text_lines(img: np.ndarray, rng: np.random.Generator, box: tuple[int, int, int, int], colour) -> None:
    x0, y0, x1, y1 = box
    y = y0 + 20
    while y < y1 - 6:
        n = int(rng.integers(6, 24))
        words = "".join(str(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789 -:"))) for _ in range(n))
        scale = _pick(rng, 0.6, 1.3)
        cv2.putText(img, words, (x0, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 2, cv2.LINE_AA)
        y += int(34 * scale) + int(rng.integers(4, 20))


def _modules_image(matrix: np.ndarray, fg, bg, ppm: int = PPM) -> np.ndarray:
    img = np.empty(matrix.shape + (3,), np.uint8)
    img[matrix == 1] = fg
    img[matrix == 0] = bg
    return np.repeat(np.repeat(img, ppm, axis=0), ppm, axis=1)


def _phone(spec: Spec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Return the phone image, the code's corners in it (4x2) and its pixels per module."""
    if spec.scene == "phone":
        qr = segno.make_qr(spec.truth, error="m", boost_error=False)
        matrix = np.array(list(qr.matrix_iter(scale=1, border=4)), np.uint8)
    else:  # a screen without a code: same size, UI in its place
        matrix = np.zeros((61, 61), np.uint8)
    code_px = matrix.shape[0] * PPM
    sw, sh = int(code_px / 0.72), int(code_px / 0.72 * 2.0)
    bezel = int(sw * 0.05)
    bg = (32, 32, 32) if spec.dark_mode else (250, 250, 250)
    fg = (225, 225, 225) if spec.dark_mode else INKS[spec.ink]
    phone = np.full((sh + 2 * bezel, sw + 2 * bezel, 3), 15, np.uint8)
    screen = np.full((sh, sw, 3), bg, np.uint8)
    header = INKS["green"] if spec.ink == "black" else INKS[spec.ink]
    screen[: sh // 10] = header
    text = (200, 200, 200) if spec.dark_mode else (60, 60, 60)
    cx, cy = (sw - code_px) // 2, int(sh * 0.22)
    _text_lines(screen, rng, (20, sh // 10 + 10, sw - 20, cy - 10), text)
    _text_lines(screen, rng, (20, cy + code_px + 10, sw - 20, sh - 10), text)
    if spec.scene == "phone":
        screen[cy : cy + code_px, cx : cx + code_px] = _modules_image(matrix, fg, bg)
    else:
        _text_lines(screen, rng, (20, cy, sw - 20, cy + code_px), text)
    phone[bezel : bezel + sh, bezel : bezel + sw] = screen
    x, y = cx + bezel, cy + bezel
    corners = np.float32([[x, y], [x + code_px, y], [x + code_px, y + code_px], [x, y + code_px]])
    return phone, corners, PPM


def _label(spec: Spec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Return the label image, the barcode's corners in it (4x2) and its pixels per module."""
    ppm = 4
    if spec.scene == "label":
        row = code128.modules(spec.truth or "", quiet=10)
    elif spec.scene == "random-bars":
        # Bars that are not Code128: a false-read trap shaped like a barcode.
        widths = rng.integers(1, 5, 100)
        row = np.concatenate([np.full(w, i % 2, np.uint8) for i, w in enumerate(widths)])
        row = np.pad(row, 10)
    else:
        row = np.zeros(180, np.uint8)
    bar_w, bar_h = row.size * ppm, int(row.size * ppm * 0.22)
    lw, lh = int(bar_w * 1.25), int(bar_w * 0.9)
    paper = tuple(int(v) for v in rng.integers(228, 250, 3))
    label = np.full((lh, lw, 3), paper, np.uint8)
    ink = (30, 30, 30)
    x, y = (lw - bar_w) // 2, int(lh * 0.35)
    cv2.rectangle(label, (8, 8), (lw - 8, lh - 8), ink, 4)
    _text_lines(label, rng, (24, 30, lw - 24, y - 10), ink)
    _text_lines(label, rng, (24, y + bar_h + 50, lw - 24, lh - 20), ink)
    if spec.scene in ("label", "random-bars"):
        strip = np.where(row == 1, 0, 1).astype(np.uint8)
        bars = np.repeat(np.tile(strip, (bar_h, 1)), ppm, axis=1)
        region = label[y : y + bar_h, x : x + bar_w]
        region[bars == 0] = ink
        if spec.truth:
            cv2.putText(label, spec.truth, (x + 40, y + bar_h + 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, ink, 2)
    elif spec.scene == "random-modules":
        blob = (rng.random((40, 40)) < 0.5).astype(np.uint8)
        label[y : y + 40 * 5, x : x + 40 * 5] = _modules_image(blob, ink, paper, 5)
    else:
        _text_lines(label, rng, (24, y, lw - 24, y + bar_h), ink)
    corners = np.float32([[x, y], [x + bar_w, y], [x + bar_w, y + bar_h], [x, y + bar_h]])
    return label, corners, ppm


def _background(rng: np.random.Generator, w: int, h: int, brown: bool) -> np.ndarray:
    # Drawn at quarter size and enlarged: the background is out of focus anyway.
    qw, qh = w // 4, h // 4
    small = rng.uniform(40, 200, (6, 8, 3)).astype(np.float32)
    if brown:
        small = small * 0.4 + np.float32([90, 140, 180]) * 0.6
    bg = cv2.resize(small, (qw, qh), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(2, 6))):  # furniture, door frames: long hard edges
        p1 = (int(rng.integers(0, qw)), int(rng.integers(0, qh)))
        p2 = (int(rng.integers(0, qw)), int(rng.integers(0, qh)))
        cv2.rectangle(bg, p1, p2, tuple(float(v) for v in rng.uniform(20, 230, 3)), -1)
    bg = np.clip(cv2.GaussianBlur(bg, (0, 0), 1), 0, 255).astype(np.uint8)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


def _pose(spec: Spec, obj_w: int, obj_h: int, k: float, f: float) -> np.ndarray:
    """Return the object's corners projected through a pinhole camera (4x2, centred at 0)."""
    rx, ry, rz = np.radians([spec.pitch, spec.yaw, spec.roll])
    cx_, sx = np.cos(rx), np.sin(rx)
    cy_, sy = np.cos(ry), np.sin(ry)
    cz, sz = np.cos(rz), np.sin(rz)
    rot = (
        np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        @ np.array([[cy_, 0, sy], [0, 1, 0], [-sy, 0, cy_]])
        @ np.array([[1, 0, 0], [0, cx_, -sx], [0, sx, cx_]])
    )
    pts = np.array([[0, 0], [obj_w, 0], [obj_w, obj_h], [0, obj_h]], np.float64)
    pts = (pts - [obj_w / 2, obj_h / 2]) * k
    xyz = np.c_[pts, np.zeros(4)] @ rot.T + [0, 0, f]
    return (f * xyz[:, :2] / xyz[:, 2:3]).astype(np.float32)


def render(spec: Spec, size: tuple[int, int], shot: int = 0) -> np.ndarray:
    """Render the scene as a BGR camera frame; `shot` varies only the sensor noise."""
    return render_placed(spec, size, shot)[0]


def render_placed(spec: Spec, size: tuple[int, int], shot: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Render the scene; also return where the code is: the corners (4x2, frame pixels) of
    its module grid with the quiet zone (QR: 4 modules a side), or of the label's bars
    (None without a code). Only the bench's bound (bench/decode/bound.py) asks for them."""
    w, h = size
    placed = None
    scale = w / 640
    rng = np.random.default_rng(spec.seed)
    cw, ch = w * SUPERSAMPLE, h * SUPERSAMPLE
    on_phone = spec.scene.startswith("phone")
    obj, code, ppm = _phone(spec, rng) if on_phone or spec.scene == "background" else _label(spec, rng)
    canvas = _background(rng, cw, ch, brown=not on_phone)
    if spec.scene != "background":
        k = spec.module_px * scale * SUPERSAMPLE / ppm
        f = 1.1 * cw
        oh, ow = obj.shape[:2]
        src = np.float32([[0, 0], [ow, 0], [ow, oh], [0, oh]])
        for _ in range(4):
            quad = _pose(spec, ow, oh, k, f)
            hom = cv2.getPerspectiveTransform(src, quad)
            code_quad = cv2.perspectiveTransform(code[None], hom)[0]
            fill = float(((code_quad.max(0) - code_quad.min(0)) / [cw, ch]).max())
            if fill < 0.92:
                break
            k *= 0.9 / fill  # a long waybill held close: step back until it fits the frame
        # Place the code (not the whole object) at the chosen spot, fully inside the frame.
        lo, hi = code_quad.min(0), code_quad.max(0)
        span = hi - lo
        margin = 0.03 * np.array([cw, ch])
        target = np.array(spec.centre) * [cw, ch]
        shift = np.clip(target - (lo + hi) / 2, margin - lo, [cw, ch] - margin - hi)
        move = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]])
        hom = move @ hom
        assert (span < [cw, ch]).all(), "code larger than the frame"
        warped = cv2.warpPerspective(obj, hom, (cw, ch), flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.full(obj.shape[:2], 255, np.uint8), hom, (cw, ch))
        cv2.copyTo(warped, mask, canvas)
        code_quad = code_quad + shift
        if spec.scene in ("phone", "label"):
            # INTER_AREA maps canvas pixel centres to frame pixels by x_f = (x_c + 0.5) / S - 0.5.
            placed = (code_quad + 0.5) / SUPERSAMPLE - 0.5
        if spec.moire > 0:
            # Only the screen shows moire; work on its bounding box to keep rendering fast.
            bx, by, bw, bh = cv2.boundingRect(mask)
            yy, xx = np.mgrid[by : by + bh, bx : bx + bw].astype(np.float32)
            ang = rng.uniform(0, np.pi)
            freq = rng.uniform(0.01, 0.03) / SUPERSAMPLE
            wave = 0.5 + 0.5 * np.cos(2 * np.pi * freq * (xx * np.cos(ang) + yy * np.sin(ang)))
            fine = 0.5 + 0.5 * np.cos(2 * np.pi * 0.23 * (xx - yy * 0.1))
            factor = 1 - spec.moire * wave * (0.6 + 0.4 * fine)
            factor = np.where(mask[by : by + bh, bx : bx + bw] > 0, factor, 1).astype(np.float32)
            box = canvas[by : by + bh, bx : bx + bw]
            box[:] = np.clip(box * factor[:, :, None], 0, 255)
        if spec.glare > 0:
            centre = code_quad[int(rng.integers(0, 4))] * 0.5 + code_quad.mean(0) * 0.5
            centre = centre + np.array(spec.glare_shift) * span + np.array(spec.glare_pan) * [cw, ch]
            radius = float(np.linalg.norm(span)) * rng.uniform(0.15, 0.35)
            x0, y0 = (int(max(0, c - 3 * radius)) for c in centre)
            x1, y1 = int(min(cw, centre[0] + 3 * radius)), int(min(ch, centre[1] + 3 * radius))
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            blob = np.exp(-(((xx - centre[0]) ** 2 + ((yy - centre[1]) * 1.6) ** 2) / (2 * radius**2)))
            box = canvas[y0:y1, x0:x1]
            box[:] = np.clip(box + (spec.glare * blob)[:, :, None], 0, 255)
    frame = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    frame = cv2.GaussianBlur(frame, (0, 0), spec.blur * scale)
    noise_rng = np.random.default_rng([spec.seed, shot])
    noise = noise_rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(spec.noise)
    frame = frame * np.float32(spec.low_light) + noise
    if spec.low_light < 1:  # the camera's gain lifts the picture back and the noise with it
        frame = (frame - frame.min()) * (0.8 / spec.low_light) ** 0.5
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg])
    assert ok
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR), placed


def specs(seed: int, counts: dict[Kind, int], difficulties=DIFFICULTIES) -> list[Spec]:
    """Return the data set's scene specs: `counts[kind]` per difficulty, deterministic in seed."""
    rng = np.random.default_rng(seed)
    out = []
    for difficulty in difficulties:
        for kind, n in counts.items():
            out.extend(draw_spec(rng, kind, difficulty) for _ in range(n))
    return out


def cases(seed: int, counts: dict[Kind, int], sizes=SIZES) -> Iterator[Case]:
    """Yield every spec rendered at every size."""
    for size in sizes:
        for i, spec in enumerate(specs(seed, counts)):
            name = f"{size[0]}x{size[1]}-{spec.difficulty}-{spec.kind}-{i:03d}"
            yield Case(name, spec, size, render(spec, size))


def variant(spec: Spec, **changes) -> Spec:
    """Return a copy of the spec with some fields changed (used by tests)."""
    return replace(spec, **changes)
