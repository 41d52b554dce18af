"""Code128's symbology (ISO/IEC 15417): the one table the demo's encoder and the gate's
fitting reader (kiosk/scanner/code128_fit.py) share."""

from __future__ import annotations

# Bar/space widths in modules for symbol values 0-106; 106 is STOP with its final 2-module
# termination bar (13 modules; every other symbol is 11).
PATTERNS = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 "
    "112232 122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 "
    "311222 321122 321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 "
    "112313 132113 132311 211313 231113 231311 112133 112331 132131 113123 113321 133121 "
    "313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 "
    "122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 "
    "124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 "
    "114311 411113 411311 113141 114131 311141 411131 211412 211214 211232 2331112"
).split()
START_A, START_B, START_C = 103, 104, 105
SHIFT, CODE_C, CODE_B, CODE_A = 98, 99, 100, 101
STOP = 106


def bars(value: int) -> list[int]:
    """A symbol's modules left to right, 1 = bar (every pattern starts with a bar)."""
    return [1 - k % 2 for k, width in enumerate(PATTERNS[value]) for _ in range(int(width))]


def check_symbol(values: list[int]) -> int:
    """The check symbol of a start symbol and the data symbols after it (weighted sum mod 103)."""
    return (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
