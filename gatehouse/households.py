"""The household key: building-unit-room ('7-2-301'), what a compound pass carries, the
residents list stores, parcels are addressed to and quotas count by. One home for
making it from its parts and for reading it from what a volunteer keys at the gate."""
from __future__ import annotations

import re

# What people put between the parts of a room: '7-2-301', '7 2 301', '7栋2单元301室'.
_SPLIT = re.compile(r"[\s\-_#/\\.,，、栋幢号楼单元室]+")
_PART = re.compile(r"[A-Z0-9]{1,6}")


def household_key(building: str, unit: str | None, room: str) -> str:
    """building-unit-room; a compound without units has building-room."""
    return "-".join(p for p in (building, unit, room) if p)


def parse_room(text: str | None) -> tuple[str, str] | None:
    """(household key, building) from a room as keyed ('07-02-0301' is '7-2-301'), or
    None when it cannot be a room."""
    parts = [p for p in _SPLIT.split((text or "").strip().upper()) if p]
    if not 2 <= len(parts) <= 3 or not all(_PART.fullmatch(p) for p in parts):
        return None
    parts = [p.lstrip("0") or "0" if p.isdigit() else p for p in parts]
    return "-".join(parts), parts[0]
