"""The shelf manifest the hub publishes for parcel-area kiosks (gatehouse.parcels).

`hub serve` (hub/app_serve.py) runs `ShelfManifest.worker` and hooks `again` to the hub's
MQTT connects (hub/sync.py): the manifest goes out when parcels change, at most every
MANIFEST_MIN_S (a courier's 40 scans are one publish, not 40), and again on every
connect (a restarted broker may have lost the retained one).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from gatehouse.codes.keys import SigningKey
from gatehouse.parcels import Manifest, ShelfParcel, seal_manifest
from hub.periodic import Periodic

MANIFEST_MIN_S = 0.5


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


class ShelfManifest:
    """Signs and publishes the manifest; `publish(blob)` sends it (retained, QoS 1),
    `connected()` is the hub's broker link."""

    def __init__(self, key: SigningKey, publish: Callable[[bytes], object],
                 connected: Callable[[], bool]):
        self.key, self.publish, self.connected = key, publish, connected
        self.published = -1            # the `changes` last published
        self._again = threading.Event()

    def again(self) -> None:
        """Publish at the next pass even if nothing changed (called on every connect)."""
        self._again.set()

    def tick(self, db: sqlite_utils.Database, now: float) -> None:
        if not self.connected():
            return
        version = changes(db)
        if version != self.published or self._again.is_set():
            self._again.clear()
            self.publish(seal_manifest(build(db, now), self.key))
            self.published = version

    def worker(self, db_path: Path) -> Periodic:
        # A failed pass (a locked database) is logged by Periodic and tried again.
        return Periodic("hub-parcels", self.tick, MANIFEST_MIN_S, db_path=db_path)
