"""COSE_Sign1 (RFC 9052) with EdDSA: the signed envelope of every code and bundle."""
from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from gatehouse.codes.keys import SigningKey

ALG_EDDSA = -8
HDR_ALG, HDR_KID = 1, 4
COSE_SIGN1_TAG = 18
SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class Sign1:
    """A parsed but not yet verified COSE_Sign1 message."""

    kid: bytes
    payload: bytes
    signature: bytes
    to_be_signed: bytes


def sign1(payload: bytes, key: SigningKey) -> bytes:
    """Wrap payload in a tagged COSE_Sign1 signed by key (kid in the protected header)."""
    protected = cbor2.dumps({HDR_ALG: ALG_EDDSA, HDR_KID: key.kid})
    signature = key.sign(_sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def parse1(data: bytes) -> Sign1:
    """Parse a COSE_Sign1 message; ValueError says what is wrong with its shape."""
    msg = strict_loads(data)
    # The tag is required: one accepted encoding per message, nothing to strip silently.
    if not isinstance(msg, cbor2.CBORTag) or msg.tag != COSE_SIGN1_TAG:
        raise ValueError("not a tagged COSE_Sign1 message")
    msg = msg.value
    if not (isinstance(msg, (list, tuple)) and len(msg) == 4):
        raise ValueError("COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = msg
    if not (isinstance(protected, bytes) and isinstance(unprotected, Mapping)
            and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise ValueError("COSE_Sign1 items have the wrong types")
    if len(signature) != SIGNATURE_BYTES:
        raise ValueError("an Ed25519 signature is 64 bytes")
    header = strict_loads(protected)
    if not isinstance(header, Mapping) or header.get(HDR_ALG) != ALG_EDDSA:
        raise ValueError("the protected header must name EdDSA")
    kid = header.get(HDR_KID)
    if not isinstance(kid, bytes) or not kid:
        raise ValueError("the protected header lacks a key id")
    return Sign1(kid, payload, signature, _sig_structure(protected, payload))


def strict_loads(data: bytes) -> Any:
    """Decode exactly one CBOR item; trailing bytes are an error (an altered code)."""
    fp = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(fp).decode()
    except Exception as exc:  # cbor2 raises several types on hostile input
        raise ValueError(f"not valid CBOR: {exc}") from None
    if fp.tell() != len(data):
        raise ValueError("trailing bytes after the CBOR item")
    return item


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def open_signed(blob: Any, signer: Any, max_bytes: int, what: str) -> Any:
    """The payload of a COSE_Sign1 message only `signer` (a TrustedKey) may have made:
    the bundle, the time beacon and the shelf manifest all come this way from the hub.
    ValueError, saying what is wrong, for anything else."""
    if not isinstance(blob, (bytes, bytearray)) or len(blob) > max_bytes:
        raise ValueError(f"{what} missing or too large")
    try:
        msg = parse1(bytes(blob))
    except ValueError as exc:
        raise ValueError(f"not a signed {what}: {exc}") from None
    if msg.kid != signer.kid:
        raise ValueError(f"{what} signed by key {msg.kid.hex()}, not by the hub")
    if not signer.verifies(msg.signature, msg.to_be_signed):
        raise ValueError(f"{what} signature does not match the hub's key")
    return strict_loads(msg.payload)
