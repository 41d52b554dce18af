"""A tiny Code128 encoder and renderer (subsets B and C), for test and bench images."""

from __future__ import annotations

import numpy as np

from gatehouse.code128 import CODE_B, CODE_C, START_B, START_C, STOP, bars, check_symbol


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
    return values + [check_symbol(values), STOP]


def modules(text: str, quiet: int = 10) -> np.ndarray:
    """Return one row of modules, 1 = bar, with a quiet zone on both sides."""
    row = [0] * quiet
    for value in encode(text):
        row.extend(bars(value))
    row.extend([0] * quiet)
    return np.array(row, dtype=np.uint8)


def render(text: str, module_px: int = 3, height_px: int = 80, quiet: int = 10) -> np.ndarray:
    """Return a black-on-white grey image of the barcode."""
    row = np.where(modules(text, quiet) == 1, 0, 255).astype(np.uint8)
    return np.repeat(np.tile(row, (height_px, 1)), module_px, axis=1)
