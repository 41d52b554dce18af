"""The hand that holds a code in front of the gate's camera: how a scene moves from one
frame to the next (bench/decode/scenes.py draws each frame)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bench.decode.scenes import Spec


def held(spec: Spec, shot: int) -> Spec:
    """Return the scene as held by a hand on frame `shot`: shifted and turned a little.

    Frame 0 is the scene itself; every later frame moves the code by about 1% of the frame
    (6 px at 640x480) and turns it by about 1.5 degrees each way, seeded by the scene and
    the frame, so every decoder sees the same motion. `render(held(spec, k), size, k)`
    also gives each frame fresh sensor noise.
    """
    if shot == 0:
        return spec
    rng = np.random.default_rng([spec.seed, shot, 7])
    cx, cy = spec.centre
    return replace(
        spec,
        centre=(cx + float(rng.normal(0, 0.01)), cy + float(rng.normal(0, 0.01))),
        roll=spec.roll + float(rng.normal(0, 1.5)),
        pitch=spec.pitch + float(rng.normal(0, 1.5)),
        yaw=spec.yaw + float(rng.normal(0, 1.5)),
    )


# How far a lamp's reflection slides across a code when the hand turns it (code widths per
# radian of turn). A mirror turned by d turns the reflected ray by 2d, so the bright spot
# moves ~2d * a*b/(a+b) over the surface (a: camera, b: lamp distance). In this bench's
# camera (f = 1.1 x frame width) a 4.5 cm health code at 116-220 px is 14-27 cm away, a
# 7 cm waybill code at 270-610 px 8-18 cm; with the lamp 80 cm away that is ~7 code widths
# per radian for a phone and ~3 for a label.
GLARE_SLIDE = {"qr": 7.0, "code128": 3.0, "empty": 3.0}


def held_under_lamp(spec: Spec, shot: int) -> Spec:
    """Return the scene as `held` moves it, with the glare of a lamp that stays put.

    `held` moves the glare with the code, as if the lamp were fixed to the phone. A real
    lamp is fixed to the gate: when the hand turns the code (pitch and yaw) its
    reflection slides across the code by `GLARE_SLIDE` code widths per radian, and when the
    hand moves the code sideways the reflection stays where it was in the frame.
    """
    moved = held(spec, shot)
    if shot == 0 or spec.glare <= 0:
        return moved
    slide = GLARE_SLIDE[spec.kind]
    turn = np.radians([moved.yaw - spec.yaw, moved.pitch - spec.pitch])
    return replace(
        moved,
        glare_shift=(float(slide * turn[0]), float(slide * turn[1])),
        glare_pan=(spec.centre[0] - moved.centre[0], spec.centre[1] - moved.centre[1]),
    )
