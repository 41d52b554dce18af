"""Volunteer PINs: hashed at the hub, checked at the gate (the hashes travel in the
signed bundle, so every gate knows its volunteers while offline).

A short PIN is weak against offline guessing whatever the hash; PBKDF2 with many
iterations slows that down, and the kiosk locks a volunteer after repeated failures.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re

ITERATIONS = 200_000
_PIN = re.compile(r"^[0-9]{4,8}$")


def valid_pin(pin: str) -> bool:
    return bool(_PIN.match(pin or ""))


def hash_pin(pin: str, iterations: int = ITERATIONS) -> str:
    """'pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>'; ValueError for a bad PIN."""
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    """Whether `pin` matches a hash from hash_pin (constant-time compare)."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256" or not valid_pin(pin):
            return False
        got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
        return hmac.compare_digest(got.hex(), digest)
    except (ValueError, AttributeError):
        return False
