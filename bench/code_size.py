"""How big each code format is, as a QR at ECC M: the measurement behind docs/codes.md.

Run: .venv/bin/python -m bench.code_size
Compares our format (COSE_Sign1 + base45 in QR alphanumeric mode) with the same plus
zlib (as the EU DCC does), COSE in base64url, and JWS compact with EdDSA over JSON.
"""
from __future__ import annotations

import base64
import json
import zlib

import cbor2
import segno

from gatehouse import codes
from gatehouse.codes import (
    Colour,
    Courier,
    Health,
    Itinerary,
    Pass,
    SigningKey,
    Vaccination,
    Venue,
    VenueKind,
)
from gatehouse.codes.base45 import b45decode, b45encode
from gatehouse.codes.format import PREFIX

T0 = 1795392000
KEY = SigningKey.generate()
REF = bytes(range(12))
CASES = {
    "pass": Pass(REF, "张*丰", "12", "2", "1101"),
    "venue": Venue("gate-north", VenueKind.GATE, "北门"),
    "courier": Courier("王*", "顺丰速运"),
    "health (typical)": Health(REF, Colour.GREEN, T0 - 20 * 3600, Vaccination.BOOSTER, 3,
                               "张*丰"),
    "health (no name)": Health(REF, Colour.GREEN, T0 - 20 * 3600, Vaccination.BOOSTER, 3),
    "itinerary (3 places)": Itinerary(REF, ("上海", "苏州", "杭州"), False),
    "itinerary (10 places)": Itinerary(REF, ("上海", "苏州", "杭州", "南京", "无锡", "宁波",
                                             "嘉兴", "湖州", "合肥", "北京"), True),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(claims) -> str:
    """The same claims as JSON in a compact JWS with EdDSA."""
    body = {k: (v.hex() if isinstance(v, bytes) else v)
            for k, v in claims.to_cbor_map().items()}
    payload = {"k": int(claims.KIND), "iat": T0, "exp": T0 + 86400, "jti": "0011223344556677",
               **{str(k): v for k, v in body.items()}}
    header = {"alg": "EdDSA", "kid": KEY.kid.hex()}
    signing_input = _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + _b64(
        json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return signing_input + "." + _b64(KEY.sign(signing_input.encode()))


def variants(claims) -> dict[str, str]:
    ours = codes.encode(claims, KEY, T0, T0 + 86400)
    cose_bytes = b45decode(ours[len(PREFIX):])
    return {
        "COSE+base45 (ours)": ours,
        "COSE+zlib+base45": "HC1:" + b45encode(zlib.compress(cose_bytes, 9)),
        "COSE+base64url": _b64(cose_bytes),
        "JWS EdDSA (JSON)": jws(claims),
    }


def qr(text: str) -> tuple[int, str]:
    q = segno.make(text, error="m", boost_error=False)
    return q.version, q.mode


def main() -> None:
    names = list(variants(CASES["pass"]))
    print("| code | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for case, claims in CASES.items():
        cells = []
        for text in variants(claims).values():
            version, _ = qr(text)
            cells.append(f"{len(text)} chars, v{version}")
        print(f"| {case} | " + " | ".join(cells) + " |")
    payload = cbor2.dumps(CASES["health (typical)"].to_cbor_map())
    print(f"\nhealth claims alone: {len(payload)} bytes of CBOR; signature 64 bytes")


if __name__ == "__main__":
    main()
