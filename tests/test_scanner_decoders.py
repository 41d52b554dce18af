"""Decoders read rendered QR and Code128 codes, and drop what is not text."""


import numpy as np
import pytest
import segno

from demo import code128
from kiosk.scanner.decoders import PyzbarDecoder, ZxingDecoder, make_decoder, text_of  # noqa: E402

TICKET = "GH1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3"
WAYBILL = "JD0012345678901-1-1-"


def qr_frame(text, scale=4, dark=(0, 0, 0), light=(255, 255, 255), at=(100, 60), size=(480, 640)):
    """Return a BGR frame with a QR code drawn at `at` on a `light` background."""
    matrix = np.array(list(segno.make_qr(text, error="m").matrix_iter(scale=scale, border=4)), bool)
    frame = np.full(size + (3,), light, np.uint8)
    y, x = at
    frame[y : y + matrix.shape[0], x : x + matrix.shape[1]][matrix] = dark
    return frame


def code128_frame(text, module=2):
    bars = code128.render(text, module_px=module, height_px=90)
    frame = np.full((480, 640), 255, np.uint8)
    frame[150 : 150 + bars.shape[0], 40 : 40 + bars.shape[1]] = bars
    return frame


DECODERS = ["pipeline", "zxing", "pyzbar"]


@pytest.mark.parametrize("name", DECODERS)
def test_reads_a_qr_ticket(name):
    symbols = make_decoder(name).decode(qr_frame(TICKET)[:, :, 0])
    assert [(s.text, s.format) for s in symbols] == [(TICKET, "qr")]


@pytest.mark.parametrize("name", DECODERS)
def test_reads_a_code128_waybill(name):
    symbols = make_decoder(name).decode(code128_frame(WAYBILL))
    assert [(s.text, s.format) for s in symbols] == [(WAYBILL, "code128")]


@pytest.mark.parametrize("name", DECODERS)
def test_polygon_is_in_frame_coordinates(name):
    symbols = make_decoder(name).decode(qr_frame(TICKET, at=(200, 300))[:, :, 0])
    xs = [x for x, _ in symbols[0].polygon]
    ys = [y for _, y in symbols[0].polygon]
    # The code's modules start 4 modules (16 px) inside the drawn square at x=300, y=200.
    assert 300 <= min(xs) <= 330 and 200 <= min(ys) <= 230


@pytest.mark.parametrize("name", DECODERS)
def test_empty_frame_yields_nothing(name):
    noise = np.random.default_rng(0).normal(128, 20, (480, 640)).clip(0, 255).astype(np.uint8)
    assert make_decoder(name).decode(noise) == []
    assert make_decoder(name).decode(np.full((480, 640), 200, np.uint8)) == []


def test_pyzbar_given_colour_reads_all_channels():
    # A blue code is invisible in the blue channel, the only one ZBar would look at.
    frame = qr_frame(TICKET, dark=(255, 0, 0))
    assert [s.text for s in PyzbarDecoder().decode(frame)] == [TICKET]


def test_non_utf8_is_dropped_never_raised():
    assert text_of(b"\xff\xfe\xfa") is None
    assert text_of("健康码".encode()) == "健康码"
    matrix = np.array(list(segno.make_qr(b"\xff\xfe\xfaABC", mode="byte").matrix_iter(scale=4, border=4)), bool)
    frame = np.where(matrix, 0, 255).astype(np.uint8)
    assert ZxingDecoder().decode(frame) == []
    for name in DECODERS:
        make_decoder(name).decode(frame)  # ZBar may transcode Latin-1; it must not raise


def test_unknown_decoder_name_is_refused():
    with pytest.raises(ValueError, match="pipeline, zxing or pyzbar"):
        make_decoder("opencv")
