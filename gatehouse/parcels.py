"""Parcels as both kiosk and hub see them: carriers recognised from the waybill number,
the signed shelf manifest a parcel-area kiosk hands parcels out from."""
from __future__ import annotations

import re
from dataclasses import dataclass

import cbor2

from gatehouse.codes import cose

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


# The shelf manifest ----------------------------------------------------------
# What the hub tells a parcel-area kiosk: every parcel now on the shelves (standing its
# hold or ready), so that a pickup works from the kiosk's last copy when the hub is away.
# Signed like the bundle; only the hub may publish it (broker ACL) and a gate checks both.

MAX_MANIFEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ShelfParcel:
    id: str            # the hub's parcel id (the gate's id from the drop-off event)
    waybill: str
    household: str     # building-unit-room, as on the resident's pass
    slot: str          # where it stands, e.g. "B-3-07"
    code: str          # pickup code, e.g. "B-3-1045"
    hold_until: float  # not to be handed out before (disinfection standing time)
    fresh: bool = False
    frozen: bool = False
    carrier: str = ""  # carrier's Chinese name, for the screen

    def ready(self, now: float) -> bool:
        return now >= self.hold_until


@dataclass(frozen=True)
class Manifest:
    version: int       # grows with every change at the hub; a gate never goes back
    at: float          # the hub's time when it was made
    parcels: tuple[ShelfParcel, ...] = ()

    def for_household(self, household: str) -> list[ShelfParcel]:
        return [p for p in self.parcels if p.household == household]

    def by_code(self, code: str) -> ShelfParcel | None:
        code = normalize_pickup_code(code)
        return next((p for p in self.parcels if p.code == code), None)

    def by_waybill(self, waybill: str) -> ShelfParcel | None:
        w = waybill.strip().upper()
        return next((p for p in self.parcels if p.waybill == w), None)


PICKUP_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,3}-\d{1,2}-\d{3,6}$")


def looks_like_code(text: str) -> bool:
    """Shaped like a pickup code (shelf-tier-number), whether or not one is on a shelf."""
    return bool(PICKUP_CODE.match(normalize_pickup_code(text)))


def normalize_pickup_code(text: str) -> str:
    """'b 3 1045', 'B-3-1045', 'b31045'? Only the first two: separators and case."""
    parts = [p for p in re.split(r"[\s\-_.]+", text.strip().upper()) if p]
    return "-".join(parts)


def seal_manifest(m: Manifest, key) -> bytes:
    rows = [[p.id, p.waybill, p.household, p.slot, p.code, float(p.hold_until),
             bool(p.fresh), bool(p.frozen), p.carrier] for p in m.parcels]
    return cose.sign1(cbor2.dumps({"v": int(m.version), "t": float(m.at), "p": rows}), key)


def unseal_manifest(blob: bytes, hub) -> Manifest:
    """Verify a manifest against the hub's public key; ManifestError when it must be refused."""
    try:
        doc = cose.open_signed(blob, hub, MAX_MANIFEST_BYTES, "manifest")
    except ValueError as exc:
        raise ManifestError(str(exc)) from None
    try:
        parcels = tuple(ShelfParcel(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
                                    float(r[5]), bool(r[6]), bool(r[7]), str(r[8]))
                        for r in doc["p"])
        return Manifest(int(doc["v"]), float(doc["t"]), parcels)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ManifestError(f"manifest content is invalid: {exc}") from None


class ManifestError(ValueError):
    pass
