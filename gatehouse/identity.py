"""Who a code belongs to, without keeping ID numbers: a keyed hash all issuers share.

A Chinese ID number has little entropy (region, birth date, sequence), so a plain
hash is reversible by brute force; a keyed HMAC is not without the binding key.
Gates never need the key: they only compare the references two codes carry.
"""
from __future__ import annotations

import hashlib
import hmac
import re

from gatehouse.codes.kinds import PERSON_REF_BYTES

BINDING_KEY_BYTES = 32
_ID_CHARS = re.compile(r"^[0-9A-Z]{6,32}$")
_ID18_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID18_CHECK = "10X98765432"


def normalize_id(id_number: str) -> str:
    """ID number as compared: no spaces, upper case; ValueError when it cannot be one."""
    norm = re.sub(r"\s+", "", str(id_number)).upper()
    if not _ID_CHARS.match(norm):
        raise ValueError("an ID number is 6-32 letters or digits")
    if len(norm) == 18 and norm[:17].isdigit() and not _valid_id18(norm):
        raise ValueError("the check digit of this 18-digit ID number is wrong")
    return norm


def _valid_id18(id18: str) -> bool:
    total = sum(int(d) * w for d, w in zip(id18[:17], _ID18_WEIGHTS))
    return _ID18_CHECK[total % 11] == id18[17]


def person_ref(binding_key: bytes, id_number: str) -> bytes:
    """The 12-byte reference every code of this person carries."""
    if len(binding_key) < 16:
        raise ValueError("the person-binding key is too short")
    digest = hmac.new(binding_key, normalize_id(id_number).encode(), hashlib.sha256)
    return digest.digest()[:PERSON_REF_BYTES]


ROSTER_REF_BYTES = 10
# scrypt cost: ~25 ms a look-up on a PC, a few times that on a Pi. The roster key
# travels to the gates, so this hash is what stands between a stolen bundle and the
# ID numbers behind it: it turns a seconds-long enumeration into months of CPU.
ROSTER_SCRYPT = {"n": 2**13, "r": 8, "p": 1}


def roster_ref(roster_key: bytes, id_number: str) -> str:
    """The gates' roster key for a person (hex): a slow keyed hash, with a key the gates
    hold, so a volunteer can look an elderly resident up by ID number while the
    issuers' binding key never leaves the hub."""
    digest = hashlib.scrypt(normalize_id(id_number).encode(), salt=roster_key,
                            dklen=ROSTER_REF_BYTES, maxmem=64 * 1024 * 1024,
                            **ROSTER_SCRYPT)
    return digest.hex()
