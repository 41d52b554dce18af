"""The decode bench: held-in-view scoring, its tables, and a peer that cannot be built is skipped."""

import numpy as np

from bench.decode import hand, measure, report, scenes, wechat
from kiosk.scanner.decoders import ZxingDecoder
from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions


def test_wechat_peer_is_skipped_with_the_reason_when_its_venv_cannot_be_built(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("GATEHOUSE_BENCH_CACHE", str(blocker))
    said = []
    assert wechat.start(log=said.append) is None
    assert said and said[-1].startswith("(WeChat QR peer skipped: ")


def test_held_in_view_counts_first_reads_and_false_reads():
    label = scenes.Spec(
        kind="code128", difficulty="medium", truth="YT1234567890123", scene="label", module_px=2.2,
        roll=40.0, pitch=5.0, yaw=5.0, centre=(0.5, 0.5), blur=0.6, noise=3.0, jpeg=80, seed=3,
    )
    trap = scenes.variant(label, kind="empty", truth=None, scene="random-bars", seed=4)
    held = measure.held_in_view([label, trap], (640, 480), {"pipeline": lambda: PipelineDecoder(PipelineOptions(deadline_ms=float("inf"))),
                                                                   "zxing": ZxingDecoder}, 3)
    assert held[0].first == {"pipeline": 0, "zxing": None}  # a label at 40 degrees
    assert held[1].false == {"pipeline": (), "zxing": ()}
    table = report.held_table(held, ["pipeline", "zxing"], 3)
    assert "| pipeline | 100% (1/1) |" in table and "| zxing | 0% (0/1) |" in table
    # Frames decoded until the first read: the label's one for the pipeline, all three of the
    # trap's; the held frames' cost is stated against zxing-cpp's on the same frames.
    assert [len(h.ms["pipeline"]) for h in held] == [1, 3] and len(held[1].ms["zxing"]) == 3
    assert "empty and trap scenes" in report.held_cost(held) and "(2 frames)" in report.held_cost(held)


def test_a_held_frame_moves_the_code_but_keeps_the_scene():
    spec = scenes.Spec(kind="qr", difficulty="medium", truth="GH1:ABC", scene="phone", module_px=3.0,
                       roll=5.0, pitch=5.0, yaw=5.0, centre=(0.5, 0.5), seed=5)
    assert hand.held(spec, 0) == spec
    moved = hand.held(spec, 1)
    assert moved != spec and (moved.truth, moved.seed, moved.glare) == (spec.truth, spec.seed, spec.glare)
    assert abs(moved.roll - spec.roll) < 8 and abs(moved.centre[0] - 0.5) < 0.05


def test_under_a_fixed_lamp_the_glare_slides_across_a_turned_code():
    spec = scenes.Spec(kind="qr", difficulty="hard", truth="GH1:ABC", scene="phone", module_px=2.5,
                       roll=5.0, pitch=5.0, yaw=5.0, centre=(0.5, 0.5), glare=200.0, seed=5)
    assert hand.held_under_lamp(spec, 0) == spec
    moved, lit = hand.held(spec, 2), hand.held_under_lamp(spec, 2)
    # The same hand motion; only the glare's place against the code differs.
    assert scenes.variant(lit, glare_shift=(0.0, 0.0), glare_pan=(0.0, 0.0)) == moved
    turn = np.radians([moved.yaw - spec.yaw, moved.pitch - spec.pitch])
    assert np.allclose(lit.glare_shift, hand.GLARE_SLIDE["qr"] * turn)
    assert np.allclose(lit.glare_pan, np.subtract(spec.centre, moved.centre))
    # The glare moved in the frame: the brightest spot is somewhere else than where `held` puts it.
    a, b = (scenes.render(s, (640, 480), 2).max(axis=2) for s in (moved, lit))
    assert (a == 255).sum() > 100 and not np.array_equal(a == 255, b == 255)
    # Without glare there is nothing to slide.
    plain = scenes.variant(spec, glare=0.0)
    assert hand.held_under_lamp(plain, 2) == hand.held(plain, 2)


def test_the_bound_reads_a_code_told_where_it_is_and_not_one_the_frames_lost():
    from bench.decode import bound

    code = scenes.Spec(kind="qr", difficulty="hard", truth="GH1:" + "7K$Q" * 45, scene="phone", module_px=2.4,
                       roll=20.0, pitch=5.0, yaw=-15.0, centre=(0.5, 0.5), blur=0.8, noise=4.0, jpeg=70, seed=11)
    frames = [scenes.render_placed(hand.held(code, k), (640, 480), k) for k in range(3)]
    assert all(placed is not None for _, placed in frames)
    assert bound.bound_reads(code, frames)
    # The same code washed out: blur and noise past what its error correction can carry.
    lost = scenes.variant(code, blur=2.2, noise=40.0)
    assert not bound.bound_reads(lost, [scenes.render_placed(hand.held(lost, k), (640, 480), k) for k in range(3)])
