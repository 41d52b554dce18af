"""A code held in view is read from its frames together: glare that moves off, noise that averages."""

import cv2
import numpy as np
import pytest
import segno

from bench.decode import hand, scenes
from kiosk.scanner import fuse
from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions

SIZE = (640, 480)


def pipeline(fused_attempts: int = PipelineOptions.fused_attempts, fit_bars: bool = True) -> PipelineDecoder:
    """The kiosk's pipeline without its per-frame deadline (a loaded test machine must not
    decide what is read)."""
    return PipelineDecoder(PipelineOptions(deadline_ms=float("inf"), fused_attempts=fused_attempts,
                                           fit_bars=fit_bars))


def held_reads(spec: scenes.Spec, decoder: PipelineDecoder, frames: int = 3) -> list[str]:
    """Return what the decoder read over `frames` frames of the scene held under a fixed lamp
    (hand motion, the lamp's reflection sliding across the code, fresh noise each frame)."""
    for shot in range(frames):
        texts = [s.text for s in decoder.decode(scenes.render(hand.held_under_lamp(spec, shot), SIZE, shot))]
        if texts:
            return texts
    return []


# Two hard scenes of tuning seed 1 (held under a fixed lamp): a red health code in low light
# with moire, and a waybill label, each with a lamp's reflection on it.
RED_CODE = scenes.Spec(
    kind="qr", difficulty="hard", scene="phone", ink="red",
    truth="GH1:ULA -B%POL3TTBJ-SC4.5.60OVWHF44S7BEEUTFIV9+$EXJKJFJ:R*$NP3H6QH+39EJAVCML1$D3HCNWJJVMS7UB8:-8"
          "QICX+FS8.SLWVEJ6D8VIB2M-NUNR94*QR7J3YGC1T/GZIQGZODW9C8K3QDE3B1/ASXZT75OB8ZOXNPAQ98-L%2I768E:OJMRTN68SRT$RFFR.",
    module_px=1.9888994782727125, roll=23.120310723987895, pitch=-5.323294873131498, yaw=23.17637773110538,
    centre=(0.6329473552465226, 0.508583277648232), blur=0.7068113473694166, glare=170.58760707241447,
    moire=0.3767608390402245, low_light=0.31255703801244505, noise=6.366586282777049, jpeg=68, seed=1515836317,
    tags=("ink-red", "glare", "moire", "low-light"),
)
LABEL = scenes.Spec(
    kind="code128", difficulty="hard", truth="YT8034869237560", scene="label", module_px=1.664264285730408,
    roll=18.82870820857756, pitch=-4.4666310377771605, yaw=-27.761443776563738,
    centre=(0.5169986443780764, 0.5066252250545239), blur=0.7628399637263886, glare=204.51056162182846,
    low_light=0.3561112778254775, noise=6.41799610490021, jpeg=57, seed=662331780, tags=("glare", "low-light"),
)


@pytest.mark.parametrize("spec", [RED_CODE, LABEL], ids=["qr-under-glare", "label-under-glare"])
def test_held_code_under_glare_is_read_from_its_frames_together(spec):
    # Frame by frame, every zxing way of reading fails (the reflection washes part of it out
    # on each frame, and low light leaves it noisy)...
    assert held_reads(spec, pipeline(fused_attempts=0, fit_bars=False)) == []
    # ...read from the frames aligned and combined, it is read by the third.
    assert held_reads(spec, pipeline(fit_bars=False)) == [spec.truth]
    # (Since session 9 the label is also read frame by frame, its symbols fitted to its
    # profile: tests/test_scanner_bar_fit.py.)
    assert held_reads(spec, pipeline()) == [spec.truth]


@pytest.mark.parametrize("trap", ["random-modules", "random-bars"])
def test_trap_held_in_view_is_fused_and_still_reads_nothing(trap):
    spec = scenes.Spec(kind="empty", difficulty="hard", truth=None, scene=trap, module_px=2.2, roll=20.0,
                       pitch=10.0, yaw=-10.0, centre=(0.5, 0.5), blur=0.9, glare=180.0, low_light=0.35,
                       noise=6.0, jpeg=55, seed=4242)
    decoder = pipeline()
    fused = 0
    for shot in range(6):
        assert decoder.decode(scenes.render(hand.held_under_lamp(spec, shot), SIZE, shot)) == []
        fused += "fused" in decoder.last_timings
    assert fused >= 1  # the fused attempts did run on it


def test_a_new_scene_and_a_still_scene_do_not_fuse():
    spec = scenes.variant(RED_CODE, kind="empty", truth=None, scene="random-modules")
    decoder = pipeline()
    decoder.decode(scenes.render(spec, SIZE, 0))
    assert "fused" not in decoder.last_timings  # first frame: nothing held yet
    decoder.decode(scenes.render(spec, SIZE, 0))
    assert set(decoder.last_timings) <= {"change", "bars", "fit", "squares", "misses"}  # still: no plan


def _code(size: int = 200, module: int = 7) -> np.ndarray:
    matrix = np.array([[bool(v) for v in row] for row in segno.make("GATEHOUSE-FUSE", error="m").matrix])
    image = np.where(np.kron(matrix, np.ones((module, module))), 30, 220).astype(np.uint8)
    canvas = np.full((size, size), 220, np.uint8)
    o = (size - image.shape[0]) // 2
    canvas[o : o + image.shape[0], o : o + image.shape[1]] = image
    return cv2.GaussianBlur(canvas, (0, 0), 0.8)


def test_an_earlier_crop_turned_and_shifted_is_aligned_back():
    code = _code()
    turn = cv2.getRotationMatrix2D((100, 100), 2.0, 1.0)
    turn[:, 2] += (3.5, -2.0)
    moved = cv2.warpAffine(code, turn, (200, 200), flags=cv2.INTER_CUBIC, borderValue=220)
    back = fuse.aligned(code, moved)
    assert back is not None
    inner = (slice(30, 170), slice(30, 170))
    assert np.abs(back[inner].astype(int) - code[inner]).mean() < 0.25 * np.abs(moved[inner].astype(int) - code[inner]).mean()


def test_unrelated_crops_are_not_fused():
    rng = np.random.default_rng(3)
    assert fuse.aligned(_code(), rng.integers(0, 255, (200, 200), dtype=np.uint8)) is None


def test_glare_clipped_on_one_crop_is_taken_from_the_other():
    code = _code().astype(np.float32)
    yy, xx = np.mgrid[0:200, 0:200]
    def lamp(x):
        return 260 * np.exp(-((xx - x) ** 2 + (yy - 100) ** 2) / (2 * 35.0**2))
    left, right = (np.clip(code + lamp(x), 0, 255).astype(np.uint8) for x in (60, 140))
    blend = fuse.levelled_blend([left, right])
    mean = ((left.astype(np.float32) + right) / 2).astype(np.uint8)
    truth = code > 125

    def agreement(image: np.ndarray, x0: int, x1: int) -> float:
        # Modules as one threshold for the whole crop tells them (light above mid-grey).
        return float(((image[40:160, x0:x1] > 128) == truth[40:160, x0:x1]).mean())

    # Each lamp washes out the modules under it on its own crop...
    assert agreement(left, 40, 80) < 0.8 and agreement(right, 120, 160) < 0.8
    # ...and a plain mean keeps them lifted (clipped light over them on one of the two)...
    assert agreement(mean, 40, 80) < 0.8 and agreement(mean, 120, 160) < 0.8
    # ...while the blend takes each place from the crop where it was not washed out.
    assert agreement(blend, 40, 80) > 0.9 and agreement(blend, 120, 160) > 0.9


def test_held_frames_keep_copies_of_the_last_two():
    held = fuse.HeldFrames()
    frames = [np.full((4, 4), v, np.uint8) for v in (1, 2, 3, 4)]
    for frame in frames:
        held.add(frame)
    frames[3][:] = 9  # the camera's buffer is reused: the kept frame is a copy
    assert [int(f[0, 0]) for f in held.frames] == [3, 4]
    held.clear()
    assert held.frames == []
