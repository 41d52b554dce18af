"""The locator finds labels at their angle and QR codes as module areas; flat frames hold nothing."""

import numpy as np
import pytest

from bench.decode import scenes
from kiosk.scanner import locate, preprocess


def frame(**changes) -> np.ndarray:
    spec = scenes.Spec(
        kind="code128", difficulty="medium", truth="YT1234567890123", scene="label", module_px=2.0,
        roll=0.0, pitch=0.0, yaw=0.0, centre=(0.5, 0.5), blur=0.6, noise=3.0, jpeg=80, seed=11,
    )
    return preprocess.luma(scenes.render(scenes.variant(spec, **changes), (640, 480), 0))


@pytest.mark.parametrize("roll", [0.0, 30.0, -45.0, 90.0])
def test_bars_are_found_with_the_angle_across_them(roll):
    bars = [c for c in locate.candidates(frame(roll=roll)) if c.shape == "bars"]
    assert bars, "no bar area found"
    # The angle is the direction across the bars, so a label turned by `roll` degrees has its
    # bars' normal at `roll` (modulo 180 degrees).
    off = (np.degrees(bars[0].angle) - roll + 90) % 180 - 90
    assert abs(off) < 6


def test_a_qr_code_is_a_module_area_not_bars():
    image = frame(kind="qr", scene="phone", truth="GH1:" + "A" * 180, module_px=2.5)
    shapes = [c.shape for c in locate.candidates(image)]
    assert "square" in shapes and "bars" not in shapes


def test_flat_and_noisy_frames_hold_no_candidate():
    noise = np.random.default_rng(0).normal(128, 6, (480, 640)).clip(0, 255).astype(np.uint8)
    assert locate.candidates(noise) == []
    assert locate.candidates(np.full((480, 640), 200, np.uint8)) == []


def test_upright_strip_maps_back_to_the_frame():
    image = frame(roll=30.0)
    bars = [c for c in locate.candidates(image) if c.shape == "bars"][0]
    strip, back = preprocess.bar_strip(image, bars.angle, np.array(bars.points))
    h, w = strip.shape
    centre = back @ np.array([w / 2, h / 2, 1.0])
    assert abs(centre[0] - 320) < 50 and abs(centre[1] - 240) < 50
