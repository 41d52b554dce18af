"""Which district this compound answers to: its id, the public key its orders are signed
with, and this compound's own id there (`hub district trust` / `hub district link`).

Kept in the hub database's `meta`, so a backup carries it with everything else.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import sqlite_utils
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gatehouse.codes.keys import TrustedKey, key_id
from gatehouse.district_wire import COMPOUND_ID
from hub import meta

KEY_DISTRICT, KEY_PUBLIC, KEY_COMPOUND = "district.id", "district.key", "district.compound"


@dataclass(frozen=True)
class DistrictConfig:
    district: str | None      # the district's id (orders name it)
    public_raw: bytes | None  # its Ed25519 public key: the only signer of orders here
    compound: str | None      # this compound's id at the district (COMPOUND_ID)

    @property
    def trusted(self) -> TrustedKey | None:
        if self.public_raw is None:
            return None
        return TrustedKey(self.public_raw, f"district {self.district}", frozenset())

    @property
    def linked(self) -> bool:
        return self.compound is not None


def load(db: sqlite_utils.Database) -> DistrictConfig:
    raw = meta.get_meta(db, KEY_PUBLIC)
    return DistrictConfig(meta.get_meta(db, KEY_DISTRICT),
                          base64.b64decode(raw) if raw else None,
                          meta.get_meta(db, KEY_COMPOUND))


def public_key_bytes(text: bytes) -> bytes:
    """The raw 32-byte Ed25519 key from a PEM public key, a trust-list JSON entry
    ({"public_key": base64}) or bare base64; ValueError otherwise."""
    text = text.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if text.startswith(b"{"):
        try:
            text = json.loads(text)["public_key"].encode()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError("a JSON key needs its public_key (base64)") from None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("not a PEM, JSON or base64 public key") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return raw


def trust(db: sqlite_utils.Database, district: str, public_raw: bytes) -> str:
    """Trust `district`'s key for orders (replacing any before); returns its key id."""
    if not COMPOUND_ID.match(district):
        raise ValueError(f"bad district id {district!r}")
    if len(public_raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    meta.set_meta(db, KEY_DISTRICT, district)
    meta.set_meta(db, KEY_PUBLIC, base64.b64encode(public_raw).decode())
    return key_id(public_raw).hex()


def set_compound(db: sqlite_utils.Database, compound: str) -> None:
    """This compound's id at its district (what the bridge carries its topics under)."""
    if not COMPOUND_ID.match(compound):
        raise ValueError(f"bad compound id {compound!r}: letters, digits, - and _ only")
    meta.set_meta(db, KEY_COMPOUND, compound)
