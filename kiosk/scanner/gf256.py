"""GF(256) and a Reed-Solomon errors-and-erasures decoder in QR's convention.

Field polynomial 0x11d; a block of n bytes with r parity bytes has the generator roots
alpha^0 .. alpha^(r-1); its first byte is the coefficient of x^(n-1). Syndromes and the
root search run in numpy (one array operation over all positions); the Berlekamp-Massey
loop is at most r^2 small-int operations, cheaper in plain Python.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


ZERO_LOG = 600  # LOG[0]: a sum with it indexes EXP's zero tail, so a product needs no branch


def _tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * (2 * ZERO_LOG + 1), [ZERO_LOG] * 256
    x = 1
    for i in range(255):
        exp[i] = exp[i + 255] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= 0x11D
    return exp, log


EXP, LOG = _tables()
_EXP = np.array(EXP[:255], dtype=np.int64)
_LOG = np.array(LOG, dtype=np.int64)


def mul(a: int, b: int) -> int:
    """The field product of a and b."""
    return EXP[LOG[a] + LOG[b]]


def syndromes(block: np.ndarray, nsym: int) -> list[int]:
    """S_j = block(alpha^j) for j < nsym: all zero exactly when the block is a codeword."""
    where = np.flatnonzero(block)
    if where.size == 0:
        return [0] * nsym
    powers = len(block) - 1 - where
    logs = _LOG[block[where]]
    table = (logs[None, :] + np.arange(nsym)[:, None] * powers[None, :]) % 255
    return np.bitwise_xor.reduce(_EXP[table], axis=1).tolist()


def _erase(lam: list[int], fsynd: list[int], powers: Sequence[int]) -> tuple[list[int], list[int]]:
    """The erasure locator times (1 + X x), and the Forney syndromes with X's term removed.

    For each erased X = alpha^p: T'_j = X T_j + T_{j+1}, one value shorter. What is left is
    the syndrome sequence of the errors alone (magnitudes scaled), for Berlekamp-Massey.
    """
    exp, log = EXP, LOG
    for p in powers:
        lam = [c ^ exp[log[prev] + p] for c, prev in zip(lam + [0], [0] + lam)]
        fsynd = [exp[log[t] + p] ^ u for t, u in zip(fsynd, fsynd[1:])]
    return lam, fsynd


def _berlekamp_massey(fsynd: list[int], most: int) -> list[int] | None:
    """The error locator of the syndromes `fsynd`; None past `most` errors (L never shrinks).

    Field products are inlined (exp[log a + log b]): this loop is the decoder's hot path.
    """
    exp, log = EXP, LOG
    slog = [log[s] for s in fsynd]
    lam, prev, length = [1], [1], 0
    for k in range(len(fsynd)):
        delta = fsynd[k]
        for i in range(1, min(len(lam), k + 1)):
            delta ^= exp[log[lam[i]] + slog[k - i]]
        prev = [0] + prev
        if not delta:
            continue
        ld = log[delta]
        update = lam + [0] * (len(prev) - len(lam))
        for i, b in enumerate(prev):
            update[i] ^= exp[ld + log[b]]
        if 2 * length <= k:
            prev = [exp[log[c] + 255 - ld] for c in lam]
            length = k + 1 - length
            if length > most:
                return None
        lam = update
    while len(lam) > 1 and not lam[-1]:
        lam.pop()
    return lam if len(lam) - 1 == length else None


def _times(a: list[int], b: list[int]) -> list[int]:
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] ^= EXP[LOG[x] + LOG[y]]
    return out


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
    if not any(synd):
        return block, 0
    if len(erasures) > min(limit, len(synd)):
        return None
    gamma, fsynd = _erase([1], list(synd), [len(block) - 1 - i for i in erasures])
    return _correct(block, synd, gamma, fsynd, limit)


def _correct(block: np.ndarray, synd: list[int], gamma: list[int], fsynd: list[int], limit: int
             ) -> tuple[np.ndarray, int] | None:
    n, f = len(block), len(gamma) - 1
    if f > limit:
        return None
    sigma = _berlekamp_massey(fsynd, (limit - f) // 2)
    if sigma is None:
        return None
    lam = _times(gamma, sigma)
    length = len(lam) - 1
    roots = _roots(lam, n)
    if len(roots) != length:
        return None
    exp, log = EXP, LOG
    slog = [log[s] for s in synd]
    omega = [0] * length  # S(x) lam(x) mod x^length: the evaluator's degree is below L
    for j in range(length):
        for i in range(min(j, length) + 1):
            omega[j] ^= exp[log[lam[i]] + slog[j - i]]
    fixed = block.copy()
    for p in roots.tolist():
        inv = (255 - p) % 255  # log of X^-1
        om = der = 0
        for j, c in enumerate(omega):
            om ^= exp[log[c] + inv * j % 255]
        for i in range(1, len(lam), 2):
            der ^= exp[log[lam[i]] + inv * (i - 1) % 255]
        if not der:
            return None
        if om:  # Forney, first root alpha^0: e = X * omega(X^-1) / lam'(X^-1)
            fixed[n - 1 - p] ^= exp[(p + log[om] - log[der]) % 255]
    if any(syndromes(fixed, len(synd))):
        return None
    return fixed, len(sigma) - 1


def decode(block: np.ndarray, order: Sequence[int], nsym: int, limit: int) -> np.ndarray | None:
    """Generalised minimum distance: `block` corrected with ever more of `order` erased.

    `order` lists positions least reliable first. No erasures first, then 2, 4, ... up to
    `limit` (each two erasures cost what one error does); the first decode within
    2*errors + erasures <= limit wins.
    """
    synd = syndromes(block, nsym)
    if not any(synd):
        return block
    if limit < 0:
        return None
    n, limit = len(block), min(limit, nsym)  # past nsym erasures nothing is determined
    gamma, fsynd, done = [1], list(synd), 0
    for erased in [0] + list(range(limit % 2 or 2, limit + 1, 2)):
        gamma, fsynd = _erase(gamma, fsynd, [n - 1 - i for i in order[done:erased]])
        done = erased
        found = _correct(block, synd, gamma, fsynd, limit)
        if found is not None:
            return found[0]
    return None
