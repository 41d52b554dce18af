"""A code held in view is one scan; the same code after the cooldown is a new one."""

import pytest

from kiosk.scanner.decoders import Symbol
from kiosk.scanner.seen import SeenFilter

A, B = Symbol("SF1234567890123", "code128", ()), Symbol("GH1:ABC", "qr", ())


def texts(symbols):
    return [s.text for s in symbols]


def test_repeats_inside_the_cooldown_are_suppressed():
    seen = SeenFilter(cooldown_s=2.5)
    assert texts(seen.admit([A], now=0.0)) == [A.text]
    assert seen.admit([A], now=1.0) == []
    assert seen.admit([A, A], now=1.1) == []


def test_same_code_passes_again_after_the_cooldown():
    seen = SeenFilter(cooldown_s=2.5)
    seen.admit([A], now=0.0)
    assert texts(seen.admit([A], now=2.6)) == [A.text]


def test_holding_a_code_in_view_is_one_scan():
    seen = SeenFilter(cooldown_s=2.5)
    admitted = [s for i in range(150) for s in seen.admit([A], now=i / 15)]  # 10 s at 15 fps
    assert texts(admitted) == [A.text]


@pytest.mark.parametrize("extend, expected", [(True, 1), (False, 4)])
def test_cooldown_counts_from_last_sighting_or_from_the_scan(extend, expected):
    seen = SeenFilter(cooldown_s=2.5, extend_while_seen=extend)
    admitted = [s for i in range(150) for s in seen.admit([A], now=i / 15)]
    assert len(admitted) == expected


def test_codes_are_independent_and_one_frame_counts_a_code_once():
    seen = SeenFilter()
    assert texts(seen.admit([A, B, A], now=0.0)) == [A.text, B.text]
    assert seen.admit([B], now=1.0) == []
