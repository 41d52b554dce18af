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


def _bars(image: np.ndarray, x0: int, x1: int, y0: int, y1: int, seed: int) -> None:
    x = x0
    rng = np.random.default_rng(seed)
    while x < x1:
        w = int(rng.integers(2, 7))
        image[y0:y1, x : x + w] = 30
        x += w + int(rng.integers(2, 7))


def test_a_label_split_in_two_by_glare_is_one_bar_area():
    image = np.full((480, 640), 225, np.uint8)
    _bars(image, 100, 280, 200, 280, 1)
    _bars(image, 340, 520, 200, 280, 2)  # the same bars beyond a washed-out gap
    bars = [c for c in locate.candidates(image) if c.shape == "bars"]
    assert len(bars) == 1
    xs = [x for x, _ in bars[0].points]
    assert min(xs) < 150 and max(xs) > 470


def test_two_labels_one_above_the_other_stay_two_bar_areas():
    image = np.full((480, 640), 225, np.uint8)
    _bars(image, 200, 440, 80, 160, 1)
    _bars(image, 200, 440, 300, 380, 2)
    assert len([c for c in locate.candidates(image) if c.shape == "bars"]) == 2


def test_the_map_is_the_same_whatever_size_came_before():
    # The map reuses its whole-frame buffers between calls; a frame of another size between
    # two calls must not change what the second one finds.
    first = locate.candidates(frame(roll=30.0))
    locate.candidates(np.full((720, 1280), 128, np.uint8))
    assert locate.candidates(frame(roll=30.0)) == first
