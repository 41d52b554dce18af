"""The default decoder: zxing-cpp on the frame, then bounded retries on code-like crops.

Its code is in kiosk/scanner/decoders.py, beside the decoders it is built from (so
`make_decoder` builds it without an import circle); this module keeps the names that
benches and tests import.
"""
from kiosk.scanner.decoders import PipelineDecoder, PipelineOptions

__all__ = ["PipelineDecoder", "PipelineOptions"]
