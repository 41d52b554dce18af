"""Encode and verify codes: "GH1:" + base45(COSE_Sign1(CBOR claims)), Ed25519-signed.

verify() is the one door every scanned string goes through. It never raises: any
input, however broken or hostile, comes back as a VerifiedCode or a CodeError
whose problem the policy turns into a reason the volunteer can read.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import cbor2

from gatehouse.codes import cose
from gatehouse.codes.base45 import b45decode, b45encode
from gatehouse.codes.keys import SigningKey, TrustList
from gatehouse.codes.kinds import CLAIMS_BY_KIND, Claims, CodeKind

PREFIX = "GH1:"
MAX_CHARS = 1500          # a QR of version 40 holds 4,296 alphanumerics; ours are ~200
CLAIM_KIND, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI = -1, 4, 6, 7
CTI_BYTES = 8
DEFAULT_SKEW = 300        # seconds an issuer's clock may run ahead of the gate's


class CodeProblem(Enum):
    NOT_OURS = "not_ours"            # some other QR: a URL, a payment code
    MALFORMED = "malformed"          # our prefix, but broken or truncated
    UNKNOWN_KEY = "unknown_key"      # signed by a key this gate does not trust
    SIGNATURE_BAD = "signature_bad"  # forged or altered
    WRONG_ISSUER = "wrong_issuer"    # a trusted key signing a kind it may not issue
    NOT_YET_VALID = "not_yet_valid"  # issued in the future
    EXPIRED = "expired"

    @property
    def is_time(self) -> bool:
        """Problems that depend on the gate's clock being right."""
        return self in (CodeProblem.EXPIRED, CodeProblem.NOT_YET_VALID)


@dataclass(frozen=True)
class VerifiedCode:
    """A code whose signature, issuer and validity period have been checked."""

    kind: CodeKind
    claims: Any
    cti: bytes
    iat: int
    exp: int
    issuer: str
    kid: bytes
    fingerprint: str

    @property
    def id(self) -> str:
        return self.cti.hex()


@dataclass(frozen=True)
class CodeError:
    """Why a scanned string is not a valid code; `code` is set when only time failed."""

    problem: CodeProblem
    detail: str
    fingerprint: str
    kind: CodeKind | None = None
    code: VerifiedCode | None = None


def fingerprint(text: str | bytes) -> str:
    """A short hash of the raw scan, to log a refusal without keeping the code."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    return hashlib.sha256(data).hexdigest()[:16]


def encode(claims: Claims, key: SigningKey, iat: int, exp: int,
           cti: bytes | None = None) -> str:
    """Sign claims and return the code text that goes into the QR."""
    claims.validate()
    if exp <= iat:
        raise ValueError("a code must expire after it is issued")
    body = {CLAIM_KIND: int(claims.KIND), CLAIM_IAT: int(iat), CLAIM_EXP: int(exp),
            CLAIM_CTI: cti or os.urandom(CTI_BYTES), **claims.to_cbor_map()}
    return PREFIX + b45encode(cose.sign1(cbor2.dumps(body), key))


def verify(text: str | bytes, trust: TrustList, now: float,
           skew: int = DEFAULT_SKEW) -> VerifiedCode | CodeError:
    """Check a scanned string against the trusted keys at time `now` (epoch seconds)."""
    fp = fingerprint(text) if isinstance(text, (str, bytes, bytearray)) else "-"
    try:
        return _verify(text, trust, now, skew, fp)
    except _Reject as rej:
        return CodeError(rej.problem, rej.detail, fp, rej.kind, rej.code)


class _Reject(Exception):
    def __init__(self, problem: CodeProblem, detail: str,
                 kind: CodeKind | None = None, code: VerifiedCode | None = None):
        super().__init__(detail)
        self.problem, self.detail, self.kind, self.code = problem, detail, kind, code


def _verify(text: Any, trust: TrustList, now: float, skew: int, fp: str) -> VerifiedCode:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise _Reject(CodeProblem.NOT_OURS, "binary data, not a code") from None
    if not isinstance(text, str):
        raise _Reject(CodeProblem.NOT_OURS, f"{type(text).__name__} is not a code")
    # Scanner guns add line ends; spaces stay, for a space is a base45 character.
    text = text.strip("\r\n\t")
    if not text.startswith(PREFIX):
        raise _Reject(CodeProblem.NOT_OURS, "not a Gatehouse code")
    if len(text) > MAX_CHARS:
        raise _Reject(CodeProblem.MALFORMED, "too long for a code")
    try:
        msg = cose.parse1(b45decode(text[len(PREFIX):]))
    except ValueError as exc:
        raise _Reject(CodeProblem.MALFORMED, str(exc)) from None

    key = trust.get(msg.kid)
    if key is None:
        raise _Reject(CodeProblem.UNKNOWN_KEY, f"signed by unknown key {msg.kid.hex()}")
    if not key.verifies(msg.signature, msg.to_be_signed):
        raise _Reject(CodeProblem.SIGNATURE_BAD, f"signature does not match key {key.name}")

    try:
        body = cose.strict_loads(msg.payload)
        if not isinstance(body, Mapping):
            raise ValueError("claims must be a map")
        kind = CodeKind(_int(body, CLAIM_KIND))
        iat, exp = _int(body, CLAIM_IAT), _int(body, CLAIM_EXP)
        cti = body.get(CLAIM_CTI)
        if not isinstance(cti, bytes) or len(cti) != CTI_BYTES:
            raise ValueError("code id must be 8 bytes")
        claims = CLAIMS_BY_KIND[kind].from_cbor_map(body)
    except ValueError as exc:
        raise _Reject(CodeProblem.MALFORMED, f"signed but malformed: {exc}") from None
    if kind not in key.kinds:
        raise _Reject(CodeProblem.WRONG_ISSUER,
                      f"{key.name} may not issue {kind.name.lower()} codes", kind)

    code = VerifiedCode(kind, claims, cti, iat, exp, key.name, key.kid, fp)
    if iat > now + skew:
        raise _Reject(CodeProblem.NOT_YET_VALID, "issued in the future", kind, code)
    if now >= exp:
        raise _Reject(CodeProblem.EXPIRED, "expired", kind, code)
    return code


def _int(body: Mapping, key: int) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"claim {key} must be an integer")
    return value
