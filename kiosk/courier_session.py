"""A courier's drop-off at the gate: the badge opens it, each waybill adds a parcel.

Made for a courier with 40 parcels: a scan records the parcel at once with the room
and the fresh/frozen flags currently set (they stay set for the next parcels), so a
volunteer keys a room once for a run of parcels to the same door, or scans the
resident's pass to set it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from gatehouse.parcels import carrier_of

IDLE_END_S = 600.0


@dataclass(frozen=True)
class Parcel:
    id: str
    waybill: str
    carrier: str | None
    carrier_name: str | None
    room: str
    fresh: bool
    frozen: bool
    at: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class CourierSession:
    badge_id: str
    name: str
    company: str
    started: float
    last: float
    room: str = ""
    fresh: bool = False
    frozen: bool = False
    room_from_pass: bool = False  # the volunteer asked to set the room by scanning a pass
    parcels: list[Parcel] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def add(self, waybill: str, now: float) -> Parcel | None:
        """Record a scanned waybill; None when it was already recorded in this session."""
        waybill = waybill.strip().upper()
        if any(p.waybill == waybill for p in self.parcels):
            return None
        carrier = carrier_of(waybill)
        parcel = Parcel(uuid.uuid4().hex, waybill, carrier[0] if carrier else None,
                        carrier[1] if carrier else None, self.room, self.fresh, self.frozen,
                        now)
        self.parcels.append(parcel)
        self.last = now
        return parcel

    def undo_last(self, now: float) -> Parcel | None:
        self.last = now
        return self.parcels.pop() if self.parcels else None

    def idle(self, now: float) -> bool:
        return now - self.last > IDLE_END_S

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "company": self.company,
                "count": len(self.parcels), "room": self.room, "fresh": self.fresh,
                "frozen": self.frozen, "room_from_pass": self.room_from_pass,
                "parcels": [p.to_json() for p in self.parcels[-8:][::-1]]}
