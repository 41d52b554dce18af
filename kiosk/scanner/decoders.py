"""Decoders by name: the pipeline (default) and the two libraries it is built from.

The libraries' wrappers are in kiosk/scanner/readers.py (the only module that imports
zxingcpp and pyzbar), the pipeline in kiosk/scanner/pipeline.py; their names are
re-exported here, where the kiosk has always looked for them.
"""

from __future__ import annotations

from kiosk.scanner.pipeline import PipelineDecoder, PipelineOptions
from kiosk.scanner.readers import Decoder, Format, Miss, PyzbarDecoder, Symbol, ZxingDecoder, text_of

__all__ = [
    "Decoder",
    "Format",
    "Miss",
    "PipelineDecoder",
    "PipelineOptions",
    "PyzbarDecoder",
    "Symbol",
    "ZxingDecoder",
    "make_decoder",
    "text_of",
]


def make_decoder(name: str = "pipeline") -> Decoder:
    """Build a decoder by name: "pipeline" (default), "zxing" or "pyzbar"."""
    if name == "pipeline":
        return PipelineDecoder()
    if name == "zxing":
        return ZxingDecoder()
    if name == "pyzbar":
        return PyzbarDecoder()
    raise ValueError(f"unknown decoder {name!r}; expected pipeline, zxing or pyzbar")
