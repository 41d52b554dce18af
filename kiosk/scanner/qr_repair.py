"""A sampled QR module grid, some of it unreadable, made back into a clean valid symbol.

zxing-cpp's Reed-Solomon decoder counts every module it misread as an error. A glare spot
clips the same modules on every frame, and a sampler can tell it did not see them
(reliability 0). Reed-Solomon corrects twice as many erasures (known-bad positions) as
errors, so here each block is decoded with its least reliable codewords erased, in growing
numbers (generalised minimum distance decoding), and the corrected codewords are drawn back
into a clean matrix for zxing-cpp to read as usual.

A block's decode is accepted only if 2*errors + erasures <= parity - slack: with `slack`
parity symbols left unspent, a hopeless block passes for another codeword about once in
256**slack tries. Slack 2 turned 2 of some 136,000 unrepairable small codes into another
code, hence 3: a false read is worse than none.

>>> import numpy as np
>>> size(10)
57
>>> repair(np.zeros((57, 57), bool), np.ones((57, 57))) is None  # no format information
True
"""

from __future__ import annotations

import numpy as np

from kiosk.scanner import gf256
from kiosk.scanner.qr_tables import (FORMAT_WORDS, VERSION_WORDS, blocks, data_cells,
                                     format_cells, mask, patterns, size, version_cells)

__all__ = ["size", "function_mask", "known_modules", "repair"]

FORMAT_MAX_ERRORS = 3  # per copy, on readable bits: BCH(15,5) has distance 7
FORMAT_MARGIN = 2.0  # the runner-up must be this many (mean-reliability) bits further
SLACK = 3  # parity symbols a block's decode must leave unspent


def function_mask(version: int) -> np.ndarray:
    """Modules that carry no data: finders and separators, timing, alignment, format, version."""
    return patterns(version)[0].copy()


def known_modules(version: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask, dark): the modules whose value the standard fixes, and those values.

    Finders with separators, timing and alignment patterns and the dark module: what a grid
    fit can be scored on whatever the code says.
    """
    _, known, dark = patterns(version)
    return known.copy(), dark & known


def _word_bits(words: list[int], width: int) -> np.ndarray:
    return (np.array(words)[:, None] >> np.arange(width)) & 1 == 1


_FORMATS = list(FORMAT_WORDS)
_FORMAT_BITS = _word_bits(list(FORMAT_WORDS.values()), 15)  # (32, 15)
_VERSION_BITS = _word_bits(list(VERSION_WORDS.values()), 18)  # (34, 18), versions 7..40


def _read_format(dark: np.ndarray, rel: np.ndarray) -> tuple[str, int] | None:
    """(level, mask) of the nearest format word, if clearly nearest and within 3 per copy."""
    cells = format_cells(len(dark))
    bits, weight = dark[cells], rel[cells]  # (2, 15) each
    if not (weight > 0).any():
        return None
    wrong = bits[None] != _FORMAT_BITS[:, None, :]  # (32, 2, 15)
    distance = (wrong * weight).sum(axis=(1, 2))
    best, second = np.argsort(distance, kind="stable")[:2]
    unit = weight[weight > 0].mean()
    if distance[second] - distance[best] < FORMAT_MARGIN * unit:
        return None
    if (wrong[best] & (weight > 0)).sum(axis=1).max() > FORMAT_MAX_ERRORS:
        return None
    return _FORMATS[best]


def _version_agrees(dark: np.ndarray, rel: np.ndarray, version: int) -> bool:
    """Whether the grid's size is (one of) the nearest version words to its version fields."""
    if version < 7:
        return True
    cells = version_cells(len(dark))
    wrong = dark[cells][None] != _VERSION_BITS[:, None, :]
    distance = (wrong * rel[cells]).sum(axis=(1, 2))
    return bool(distance[version - 7] <= distance.min())


def _decode_block(block: np.ndarray, trust: np.ndarray, ec: int, slack: int) -> np.ndarray | None:
    order = np.argsort(trust, kind="stable").tolist()  # least reliable first
    return gf256.decode(block, order, ec, ec - slack)


def _draw(version: int, level: str, pattern: int, codewords: np.ndarray) -> np.ndarray:
    """The clean symbol: function patterns, format and version words, masked data."""
    n = size(version)
    _, known, dark = patterns(version)
    out = dark & known
    out[format_cells(n)] = _FORMAT_BITS[_FORMATS.index((level, pattern))][None]
    if version >= 7:
        out[version_cells(n)] = _VERSION_BITS[version - 7][None]
    rows, cols = data_cells(version)
    bits = np.zeros(len(rows), bool)  # remainder bits stay 0 before masking
    bits[:8 * len(codewords)] = np.unpackbits(codewords.astype(np.uint8)) == 1
    out[rows, cols] = bits ^ mask(pattern, n)[rows, cols]
    return out


def _version_of(shape: tuple[int, ...]) -> int:
    n = shape[0] if len(shape) == 2 and shape[0] == shape[1] else 0
    if (n - 17) % 4 or not 1 <= (n - 17) // 4 <= 40:
        raise ValueError(f"a QR module grid is N x N with N = 17 + 4v, v in 1..40: {shape}")
    return (n - 17) // 4


def repair(dark: np.ndarray, reliability: np.ndarray, slack: int = SLACK) -> np.ndarray | None:
    """The corrected module matrix of the QR code sampled as `dark`, or None if not sure.

    `dark` is N x N bool (True = dark), `reliability` N x N >= 0 (0 = not seen, e.g. under
    glare). Every Reed-Solomon block must decode with 2*errors + erasures <= parity - slack.
    Raises ValueError only on a grid size that is no QR version or a reliability of
    another shape; any content of the right shape gives a matrix or None.
    """
    dark = np.asarray(dark, dtype=bool)
    rel = np.asarray(reliability, dtype=float)
    version = _version_of(dark.shape)
    if rel.shape != dark.shape:
        raise ValueError(f"reliability {rel.shape} does not match the grid {dark.shape}")
    rel = np.where(np.isfinite(rel) & (rel > 0), rel, 0.0)
    found = _read_format(dark, rel)
    if found is None or not _version_agrees(dark, rel, version):
        return None
    level, pattern = found
    rows, cols = data_cells(version)
    layout = blocks(version, level)
    count = sum(len(members) for members, _ in layout)
    bits = (dark[rows, cols] ^ mask(pattern, len(dark))[rows, cols])[:8 * count]
    codewords = np.packbits(bits).astype(np.int64)
    trust = rel[rows, cols][:8 * count].reshape(count, 8).min(axis=1)
    fixed = codewords.copy()
    for members, ec in layout:
        block = _decode_block(codewords[members], trust[members], ec, slack)
        if block is None:
            return None
        fixed[members] = block
    return _draw(version, level, pattern, fixed)
