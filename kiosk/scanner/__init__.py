"""Camera and scanner-gun input: frame sources, barcode decoders and the repeat filter.

The gate loop needs only this::

    from kiosk.scanner import open_source, LatestFrame, make_decoder, SeenFilter

    with LatestFrame(open_source("v4l2:0?width=640&height=480")) as frames:
        decoder, seen = make_decoder("pipeline"), SeenFilter(cooldown_s=2.5)
        for frame in frames:
            for symbol in seen.admit(decoder.decode(frame.image), now=frame.timestamp):
                handle(symbol.text)
"""

from kiosk.scanner.camera import Frame, FrameSource, LatestFrame, open_source
from kiosk.scanner.decoders import Decoder, Symbol, make_decoder
from kiosk.scanner.seen import SeenFilter

__all__ = [
    "Decoder",
    "Frame",
    "FrameSource",
    "LatestFrame",
    "SeenFilter",
    "Symbol",
    "make_decoder",
    "open_source",
]
