"""A tiny Code128 encoder and renderer (subsets B and C), for test and bench images."""

from __future__ import annotations

import numpy as np

# Bar/space widths in modules for symbol values 0-106 (ISO/IEC 15417); 106 is STOP with
# its final 2-module termination bar.
PATTERNS = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 "
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 "
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 "
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 "
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 "
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 "
    "114131 311141 411131 211412 211214 211232 2331112"
).split()
START_B, START_C, CODE_B, CODE_C, STOP = 104, 105, 100, 99, 106


def _digit_run(text: str, i: int) -> int:
    n = i
    while n < len(text) and text[n].isdigit():
        n += 1
    return n - i


def encode(text: str) -> list[int]:
    """Return the symbol values (start, data, checksum, stop) for printable ASCII text."""
    if not text or any(not 32 <= ord(c) < 127 for c in text):
        raise ValueError("Code128 renderer takes printable ASCII only")
    values: list[int] = []
    subset = ""
    i = 0
    while i < len(text):
        run = _digit_run(text, i)
        # Subset C packs two digits per symbol; it pays from 4 digits (6 at the start/end).
        if run >= 4 and run % 2 == 0 or run >= 5:
            take = run - run % 2
            if subset != "C":
                values.append(START_C if not values else CODE_C)
                subset = "C"
            values.extend(int(text[j : j + 2]) for j in range(i, i + take, 2))
            i += take
            continue
        if subset != "B":
            values.append(START_B if not values else CODE_B)
            subset = "B"
        values.append(ord(text[i]) - 32)
        i += 1
    checksum = (values[0] + sum(k * v for k, v in enumerate(values[1:], start=1))) % 103
    return values + [checksum, STOP]


def modules(text: str, quiet: int = 10) -> np.ndarray:
    """Return one row of modules, 1 = bar, with a quiet zone on both sides."""
    row = [0] * quiet
    for value in encode(text):
        for k, width in enumerate(PATTERNS[value]):
            row.extend([1 - k % 2] * int(width))
    row.extend([0] * quiet)
    return np.array(row, dtype=np.uint8)


def render(text: str, module_px: int = 3, height_px: int = 80, quiet: int = 10) -> np.ndarray:
    """Return a black-on-white grey image of the barcode."""
    row = np.where(modules(text, quiet) == 1, 0, 255).astype(np.uint8)
    return np.repeat(np.tile(row, (height_px, 1)), module_px, axis=1)
