"""The five kinds of signed code and their claims, each with its compact CBOR keys.

Keys are small negative integers so that a health code fits a small QR code; the
envelope keys (exp 4, iat 6, cti 7) follow CWT (RFC 8392). docs/codes.md has the table.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar

from gatehouse.households import household_key

PERSON_REF_BYTES = 12
MAX_TEXT = 64
MAX_PLACES = 30


class CodeKind(IntEnum):
    PASS = 1       # 出入证, issued by the hub
    VENUE = 2      # 场所码, issued by the hub
    COURIER = 3    # courier badge, issued by the hub
    HEALTH = 4     # 健康码, issued by a health authority
    ITINERARY = 5  # 行程码, issued by the telecom authority


class Colour(IntEnum):
    GREEN = 1
    YELLOW = 2
    RED = 3


class Vaccination(IntEnum):
    UNKNOWN = 0
    BOOSTER = 1        # completed booster 已加强
    PRIMARY = 2        # completed primary series 已完成全程
    INCOMPLETE = 3     # 未完成
    NOT_SUITABLE = 4   # medically not suitable 不适宜接种


class VenueKind(IntEnum):
    GATE = 1
    BUILDING = 2
    PARCEL_AREA = 3


@dataclass(frozen=True)
class Field:
    """One claim: its CBOR key, attribute name, type and whether it may be absent."""

    key: int
    name: str
    kind: Any
    optional: bool = False


class Claims:
    """Base of the per-kind claim classes: CBOR map <-> dataclass, with type checks."""

    KIND: ClassVar[CodeKind]
    FIELDS: ClassVar[tuple[Field, ...]]

    def to_cbor_map(self) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for f in self.FIELDS:
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.key] = int(value) if isinstance(value, IntEnum) else (
                list(value) if isinstance(value, tuple) else value)
        return out

    @classmethod
    def from_cbor_map(cls, body: dict[int, Any]) -> Claims:
        """Build the claims from a decoded map; ValueError names the first bad field."""
        values = {}
        for f in cls.FIELDS:
            if f.key not in body:
                if not f.optional:
                    raise ValueError(f"{cls.KIND.name.lower()} code lacks {f.name}")
                values[f.name] = None
                continue
            values[f.name] = _check(f, body[f.key])
        return cls(**values)

    def validate(self) -> None:
        """Raise ValueError when a field is out of its format (used before signing)."""
        type(self).from_cbor_map(self.to_cbor_map())


def _check(f: Field, value: Any) -> Any:
    if f.kind is bytes:
        if not isinstance(value, bytes) or len(value) != PERSON_REF_BYTES:
            raise ValueError(f"{f.name} must be {PERSON_REF_BYTES} bytes")
    elif f.kind is str:
        if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
            raise ValueError(f"{f.name} must be text of 1-{MAX_TEXT} characters")
    elif f.kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{f.name} must be true or false")
    elif f.kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**40:
            raise ValueError(f"{f.name} must be a non-negative integer")
    elif f.kind is tuple:
        if (not isinstance(value, (list, tuple)) or len(value) > MAX_PLACES
                or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value)):
            raise ValueError(f"{f.name} must be a list of up to {MAX_PLACES} texts")
        return tuple(value)
    elif issubclass(f.kind, IntEnum):
        if (isinstance(value, bool) or not isinstance(value, int)
                or value not in f.kind._value2member_map_):
            raise ValueError(f"{f.name} has an unknown value")
        return f.kind(value)
    return value


@dataclass(frozen=True)
class Pass(Claims):
    """A resident's compound pass, bound to a person and a household (the room)."""

    KIND = CodeKind.PASS
    FIELDS = (Field(-2, "person_ref", bytes), Field(-3, "name", str),
              Field(-4, "building", str), Field(-5, "unit", str, optional=True),
              Field(-6, "room", str))
    person_ref: bytes
    name: str
    building: str
    unit: str | None
    room: str

    @property
    def household(self) -> str:
        return household_key(self.building, self.unit, self.room)


@dataclass(frozen=True)
class Venue(Claims):
    """A place's code: a gate, a building entrance or the parcel area."""

    KIND = CodeKind.VENUE
    FIELDS = (Field(-2, "place", str), Field(-3, "venue_kind", VenueKind),
              Field(-4, "name", str, optional=True))
    place: str
    venue_kind: VenueKind
    name: str | None = None


@dataclass(frozen=True)
class Courier(Claims):
    """A courier's badge: who drops parcels at the gate, and for which company."""

    KIND = CodeKind.COURIER
    FIELDS = (Field(-2, "name", str), Field(-3, "company", str))
    name: str
    company: str


@dataclass(frozen=True)
class Health(Claims):
    """A health code: colour, the last negative test's sampling time, vaccination."""

    KIND = CodeKind.HEALTH
    FIELDS = (Field(-2, "person_ref", bytes), Field(-3, "colour", Colour),
              Field(-4, "tested_at", int, optional=True),
              Field(-5, "vaccination", Vaccination), Field(-6, "doses", int),
              Field(-7, "name", str, optional=True))
    person_ref: bytes
    colour: Colour
    tested_at: int | None
    vaccination: Vaccination
    doses: int
    name: str | None = None


@dataclass(frozen=True)
class Itinerary(Claims):
    """An itinerary code: places visited in the last 14 days, starred if any was at risk."""

    KIND = CodeKind.ITINERARY
    FIELDS = (Field(-2, "person_ref", bytes), Field(-3, "places", tuple),
              Field(-4, "star", bool))
    person_ref: bytes
    places: tuple[str, ...]
    star: bool


CLAIMS_BY_KIND: dict[CodeKind, type[Claims]] = {
    c.KIND: c for c in (Pass, Venue, Courier, Health, Itinerary)}

# Sanity: every Field names a dataclass attribute, so a typo fails at import.
for _cls in CLAIMS_BY_KIND.values():
    assert {f.name for f in _cls.FIELDS} == {f.name for f in fields(_cls)}, _cls
