"""GF(256) and a Reed-Solomon errors-and-erasures decoder in QR's convention.

Field polynomial 0x11d; a block of n bytes with r parity bytes has the generator roots
alpha^0 .. alpha^(r-1); its first byte is the coefficient of x^(n-1). Syndromes and the
root search run in numpy (one array operation over all positions); the Berlekamp-Massey
loop is at most r^2 small-int operations, cheaper in plain Python.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    x = 1
    for i in range(255):
        exp[i], log[x] = x, i
        x <<= 1
        if x & 0x100:
            x ^= 0x11D
    exp[255:510] = exp[:255]
    return exp, log


EXP, LOG = _tables()
_EXP = np.array(EXP[:255], dtype=np.int64)
_LOG = np.array(LOG, dtype=np.int64)


def mul(a: int, b: int) -> int:
    """The field product of a and b."""
    return EXP[LOG[a] + LOG[b]] if a and b else 0


def syndromes(block: np.ndarray, nsym: int) -> list[int]:
    """S_j = block(alpha^j) for j < nsym: all zero exactly when the block is a codeword."""
    where = np.flatnonzero(block)
    if where.size == 0:
        return [0] * nsym
    powers = len(block) - 1 - where
    logs = _LOG[block[where]]
    table = (logs[None, :] + np.arange(nsym)[:, None] * powers[None, :]) % 255
    return np.bitwise_xor.reduce(_EXP[table], axis=1).tolist()


def _locator(synd: Sequence[int], erasure_powers: Sequence[int], limit: int
             ) -> tuple[list[int], int] | None:
    """Berlekamp-Massey started from the erasure locator (Blahut): the errata locator and L.

    None as soon as 2*errors + erasures passes `limit` (L never shrinks). Field products are
    inlined (exp[log a + log b]): this loop is the decoder's hot path.
    """
    exp, log = EXP, LOG
    lam = [1]
    for p in erasure_powers:  # times (1 + alpha^p x)
        lam = [c ^ (exp[log[prev] + p] if prev else 0) for c, prev in zip(lam + [0], [0] + lam)]
    f = len(erasure_powers)
    prev, length = lam[:], f
    for k in range(f, len(synd)):
        delta = synd[k]
        for i in range(1, min(len(lam), k + 1)):
            if lam[i] and synd[k - i]:
                delta ^= exp[log[lam[i]] + log[synd[k - i]]]
        prev = [0] + prev
        if not delta:
            continue
        ld = log[delta]
        update = lam + [0] * (len(prev) - len(lam))
        for i, b in enumerate(prev):
            if b:
                update[i] ^= exp[ld + log[b]]
        if 2 * length <= k + f:
            inv = 255 - ld
            prev = [exp[log[c] + inv] if c else 0 for c in lam]
            length = k + 1 + f - length
            if 2 * length - f > limit:
                return None
        lam = update
    while len(lam) > 1 and not lam[-1]:
        lam.pop()
    return lam, length


def _roots(lam: list[int], n: int) -> np.ndarray:
    """Chien search over the block's own positions: powers p with lam(alpha^-p) == 0."""
    degrees = np.array([i for i, c in enumerate(lam) if c], dtype=np.int64)
    logs = _LOG[np.array([c for c in lam if c], dtype=np.int64)]
    powers = np.arange(n, dtype=np.int64)
    table = (logs[:, None] - degrees[:, None] * powers[None, :]) % 255
    return powers[np.bitwise_xor.reduce(_EXP[table], axis=0) == 0]


def correct(block: np.ndarray, synd: list[int], erasures: Sequence[int], limit: int
            ) -> tuple[np.ndarray, int] | None:
    """The codeword nearest `block` with `erasures` (indices) unknown, and its error count.

    None unless 2*errors + len(erasures) <= limit and every check holds: the locator has as
    many roots among the block's positions as its degree, and the result's syndromes are 0.
    """
    n, f = len(block), len(erasures)
    if f > limit:
        return None
    if not any(synd):
        return block, 0
    located = _locator(synd, [n - 1 - i for i in erasures], limit)
    if located is None:
        return None
    lam, length = located
    errors = length - f
    if len(lam) - 1 != length or errors < 0 or 2 * errors + f > limit:
        return None
    roots = _roots(lam, n)
    if len(roots) != length:
        return None
    omega = [0] * length  # S(x) lam(x) mod x^length: the evaluator's degree is below L
    for j in range(length):
        for i in range(min(j, len(lam) - 1) + 1):
            omega[j] ^= mul(lam[i], synd[j - i])
    fixed = block.copy()
    for p in roots.tolist():
        inv = (255 - p) % 255  # log of X^-1
        om = 0
        for j, c in enumerate(omega):
            om ^= mul(c, EXP[(inv * j) % 255])
        der = 0
        for i in range(1, len(lam), 2):
            der ^= mul(lam[i], EXP[(inv * (i - 1)) % 255])
        if not der:
            return None
        # Forney with first root alpha^0: e = X * omega(X^-1) / lam'(X^-1)
        value = mul(EXP[p], EXP[LOG[om] + 255 - LOG[der]]) if om else 0
        fixed[n - 1 - p] ^= value
    if any(syndromes(fixed, len(synd))):
        return None
    return fixed, errors
