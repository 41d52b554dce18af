"""Ed25519 signing keys, key ids, and the list of keys a gate trusts."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gatehouse.codes.kinds import CodeKind
from gatehouse.home import write_private

KID_BYTES = 8


def key_id(public_raw: bytes) -> bytes:
    """The key id: the first 8 bytes of SHA-256 of the raw public key (as the EU DCC does)."""
    return hashlib.sha256(public_raw).digest()[:KID_BYTES]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key of an issuer (the hub or a health authority)."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """Read a PEM private key written by save()."""
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return cls(key)

    def save(self, path: Path) -> None:
        """Write the key as PEM, readable by its owner only."""
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        write_private(Path(path), pem)

    @property
    def public_raw(self) -> bytes:
        return _raw_public(self.private.public_key())

    @property
    def kid(self) -> bytes:
        return key_id(self.public_raw)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def trusted(self, name: str, kinds: frozenset[CodeKind]) -> TrustedKey:
        """This key's public half as a trust-list entry."""
        return TrustedKey(self.public_raw, name, frozenset(kinds))


@dataclass(frozen=True)
class TrustedKey:
    """A public key a gate accepts, with the kinds of code it may sign."""

    public_raw: bytes
    name: str
    kinds: frozenset[CodeKind]

    @property
    def kid(self) -> bytes:
        return key_id(self.public_raw)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> dict:
        return {"kid": self.kid.hex(), "public_key": base64.b64encode(self.public_raw).decode(),
                "name": self.name, "kinds": sorted(k.name.lower() for k in self.kinds)}

    @classmethod
    def from_json(cls, doc: dict) -> TrustedKey:
        key = cls(base64.b64decode(doc["public_key"]), str(doc["name"]),
                  frozenset(CodeKind[k.upper()] for k in doc["kinds"]))
        if len(key.public_raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        if "kid" in doc and doc["kid"] != key.kid.hex():
            raise ValueError(f"key id {doc['kid']} does not match its public key")
        return key


@dataclass(frozen=True)
class TrustList:
    """The issuer keys a gate trusts, by key id."""

    keys: dict[bytes, TrustedKey] = field(default_factory=dict)

    @classmethod
    def of(cls, *keys: TrustedKey) -> TrustList:
        return cls({k.kid: k for k in keys})

    def get(self, kid: bytes) -> TrustedKey | None:
        return self.keys.get(kid)
