"""The shelf manifest the hub publishes for parcel-area kiosks (gatehouse.parcels)."""
from __future__ import annotations

import sqlite_utils

from gatehouse.parcels import Manifest, ShelfParcel


def changes(db: sqlite_utils.Database) -> int:
    """Grows with every parcel change (the history is append-only): when to publish."""
    return db.execute("select coalesce(max(id), 0) from parcel_events").fetchone()[0]


def build(db: sqlite_utils.Database, at: float) -> Manifest:
    rows = db.query("select id, waybill, household, slot, code, hold_until, fresh, frozen, "
                    "carrier_name from parcels where state in ('holding', 'shelved') "
                    "and slot is not null order by slot")
    # The version is the hub's time in ms, not a row id: the history shrinks with the
    # retention purge and a restored backup starts lower, and a kiosk never goes back.
    return Manifest(int(at * 1000), at, tuple(
        ShelfParcel(r["id"], r["waybill"], r["household"], r["slot"], r["code"],
                    r["hold_until"], bool(r["fresh"]), bool(r["frozen"]),
                    r["carrier_name"] or "") for r in rows))
