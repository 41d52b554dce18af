"""Parcels as both kiosk and hub see them: carriers recognised from the waybill number."""
from __future__ import annotations

import re

# Prefixes and number shapes of the big carriers' waybills (most specific first).
CARRIERS: tuple[tuple[str, str, str], ...] = (
    (r"^SF\d{12,13}$", "sf", "顺丰速运"),
    (r"^JD[A-Z0-9]{10,16}(-\d+){0,3}-?$", "jd", "京东物流"),
    (r"^YT\d{13,15}$", "yto", "圆通速递"),
    (r"^JT\d{13}$", "jt", "极兔速递"),
    (r"^(DPK|DP)\d{9,13}$", "deppon", "德邦快递"),
    (r"^E[A-Z]\d{9}CN$", "ems", "EMS"),
    (r"^(75|78|73|76)\d{10,13}$", "zto", "中通快递"),
    (r"^(43|46|31|33)\d{11}$", "yunda", "韵达快递"),
    (r"^(77|88|66|55)\d{10,13}$", "sto", "申通快递"),
)
_COMPILED = tuple((re.compile(p), code, name) for p, code, name in CARRIERS)
WAYBILL = re.compile(r"^[A-Za-z0-9-]{6,40}$")


def carrier_of(waybill: str) -> tuple[str, str] | None:
    """(code, Chinese name) of the carrier a waybill number belongs to, if recognised."""
    w = waybill.strip().upper()
    for pattern, code, name in _COMPILED:
        if pattern.match(w):
            return code, name
    return None


def valid_waybill(text: str) -> bool:
    """A plausible waybill number (letters, digits, dashes), not a URL or a code of ours."""
    return bool(WAYBILL.match(text.strip()))
