"""QR Code symbol geometry and error-correction data, from ISO/IEC 18004.

Where each module of a version-v symbol belongs (function patterns, format and version
information, data in its zigzag order), the eight data masks, the valid format and version
words, and Table 9: how each version and level splits its codewords into Reed-Solomon blocks.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

LEVELS = "LMQH"
LEVEL_BITS = {"L": 1, "M": 0, "Q": 3, "H": 2}  # the format information's two EC-level bits

# Table 9, per level, for versions 1..40: EC codewords per block, then blocks in all.
# The standard's two groups are the split of the version's codewords into that many blocks
# of sizes differing by one (the longer blocks last); each block carries the same EC count.
EC_PER_BLOCK = {
    "L": (7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
          28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "M": (10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
          26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
    "Q": (13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
          28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "H": (17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
          30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
}
BLOCKS = {
    "L": (1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
          8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    "M": (1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
          17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
    "Q": (1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
          23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68),
    "H": (1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
          25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81),
}


def size(version: int) -> int:
    """Modules per side of a version 1..40 symbol: 17 + 4*version."""
    if not 1 <= version <= 40:
        raise ValueError(f"QR version {version} is not 1..40")
    return 17 + 4 * version


def alignment_positions(version: int) -> tuple[int, ...]:
    """Row and column centres of the alignment patterns (Annex E), evenly stepped from 6."""
    if version == 1:
        return ()
    count = version // 7 + 2
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    last = size(version) - 7
    return (6,) + tuple(reversed([last - i * step for i in range(count - 1)]))


def format_cells(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(2, 15, 2) row/column of format bit i (bit 0 least significant) in its two copies."""
    first = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [(8, 14 - i) for i in range(9, 15)]
    second = [(8, n - 1 - i) for i in range(8)] + [(n - 15 + i, 8) for i in range(8, 15)]
    cells = np.array([first, second])
    return cells[..., 0], cells[..., 1]


def version_cells(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(2, 18) row/column of version bit i in its two 6x3 copies (top right, bottom left)."""
    right = [(i // 3, n - 11 + i % 3) for i in range(18)]
    cells = np.array([right, [(c, r) for r, c in right]])
    return cells[..., 0], cells[..., 1]


def _bch(data: int, bits: int, poly: int) -> int:
    rem = data
    for _ in range(bits):
        rem = (rem << 1) ^ ((rem >> (bits - 1)) * poly)
    return data << bits | rem


# (level, mask) -> 15-bit format word; BCH(15,5), then XOR 0x5412 so no word is all light.
FORMAT_WORDS = {(level, mask): _bch(LEVEL_BITS[level] << 3 | mask, 10, 0x537) ^ 0x5412
                for level in LEVELS for mask in range(8)}
VERSION_WORDS = {v: _bch(v, 12, 0x1F25) for v in range(7, 41)}  # BCH(18,6)


@lru_cache(maxsize=None)
def patterns(version: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(function, known, dark): the function-module mask, the fixed modules, their values.

    Fixed: finders with separators, timing, alignment patterns and the dark module. Function
    adds the format and version information cells. Cached: callers must not write to them.
    """
    n = size(version)
    function, known, dark = (np.zeros((n, n), bool) for _ in range(3))

    def draw(row: int, col: int, radius: int, light_rings: tuple[int, ...]) -> None:
        for r in range(max(row - radius, 0), min(row + radius + 1, n)):
            for c in range(max(col - radius, 0), min(col + radius + 1, n)):
                known[r, c] = True
                dark[r, c] = max(abs(r - row), abs(c - col)) not in light_rings

    for row, col in ((3, 3), (3, n - 4), (n - 4, 3)):
        draw(row, col, 4, (2, 4))  # 7x7 finder and its light separator
    for i in range(8, n - 8):
        for r, c in ((6, i), (i, 6)):
            known[r, c], dark[r, c] = True, i % 2 == 0
    centres = alignment_positions(version)
    for row in centres:
        for col in centres:
            if not (row == 6 and col in (6, n - 7) or row == n - 7 and col == 6):
                draw(row, col, 2, (1,))
    known[n - 8, 8] = dark[n - 8, 8] = True
    function |= known
    function[format_cells(n)] = True
    if version >= 7:
        function[version_cells(n)] = True
    for a in (function, known, dark):
        a.setflags(write=False)
    return function, known, dark


@lru_cache(maxsize=None)
def data_cells(version: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the data modules in reading order (bit 7 of codeword 0 first).

    Two-column strips from the right edge, the rightmost column of each pair first, going up
    then down in turn; column 6 (vertical timing) is skipped.
    """
    n = size(version)
    function = patterns(version)[0]
    rows, cols = [], []
    right = n - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = (right + 1) & 2 == 0
        for vert in range(n):
            r = n - 1 - vert if upward else vert
            for c in (right, right - 1):
                if not function[r, c]:
                    rows.append(r)
                    cols.append(c)
        right -= 2
    return np.array(rows), np.array(cols)


@lru_cache(maxsize=None)
def mask(pattern: int, n: int) -> np.ndarray:
    """Modules that data mask `pattern` (0..7) inverts, on an n x n grid."""
    i, j = np.indices((n, n))
    flips = [(i + j) % 2 == 0, i % 2 == 0, j % 3 == 0, (i + j) % 3 == 0,
            (i // 2 + j // 3) % 2 == 0, (i * j) % 2 + (i * j) % 3 == 0,
            ((i * j) % 2 + (i * j) % 3) % 2 == 0, ((i + j) % 2 + (i * j) % 3) % 2 == 0][pattern]
    flips.setflags(write=False)
    return flips


@lru_cache(maxsize=None)
def blocks(version: int, level: str) -> tuple[tuple[np.ndarray, int], ...]:
    """Per RS block: its codewords' indices in the symbol's stream, and its EC count."""
    total = len(data_cells(version)[0]) // 8
    count, ec = BLOCKS[level][version - 1], EC_PER_BLOCK[level][version - 1]
    short = count - total % count
    data = [total // count - ec + (b >= short) for b in range(count)]
    members: list[list[int]] = [[] for _ in range(count)]
    at = 0
    for i in range(max(data)):  # data codewords interleaved, then the EC codewords
        for b in range(count):
            if i < data[b]:
                members[b].append(at)
                at += 1
    for i in range(ec):
        for b in range(count):
            members[b].append(at)
            at += 1
    arrays = tuple(np.array(m) for m in members)
    for a in arrays:
        a.setflags(write=False)
    return tuple((a, ec) for a in arrays)
