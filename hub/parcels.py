"""Parcels at the hub: one table of allowed state changes, an append-only history.

The first slice of issue 7: parcels come in from the gates' `parcel` events (a
waybill dropped off twice is one parcel), and every later change goes through
`move`, which refuses an illegal one with a clear message and writes the new state
and its event in one transaction. Shelving, holds, pickup codes and run sheets build
on this.
"""
from __future__ import annotations

import json
from enum import Enum

import sqlite_utils
from sqlite_utils.migrations import Migrations

from gatehouse.db import write_transaction

migrations = Migrations("gatehouse.hub.parcels")


class ParcelState(str, Enum):
    RECEIVED = "received"            # dropped off at a gate
    HOLDING = "holding"              # disinfected, standing its time
    SHELVED = "shelved"              # in a slot, pickup code sent
    OUT_FOR_DELIVERY = "out_for_delivery"  # on a run sheet to a sealed building
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    RETURNED = "returned"            # back to the courier
    UNKNOWN_RECIPIENT = "unknown_recipient"
    DAMAGED = "damaged"
    MISSHELVED = "misshelved"
    VOIDED = "voided"                # the volunteer undid the scan at the gate

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = {ParcelState.PICKED_UP, ParcelState.DELIVERED, ParcelState.RETURNED,
         ParcelState.VOIDED}
S = ParcelState
ALLOWED: dict[ParcelState, set[ParcelState]] = {
    S.RECEIVED: {S.HOLDING, S.UNKNOWN_RECIPIENT, S.DAMAGED, S.RETURNED, S.VOIDED},
    S.HOLDING: {S.SHELVED, S.OUT_FOR_DELIVERY, S.UNKNOWN_RECIPIENT, S.DAMAGED},
    S.SHELVED: {S.PICKED_UP, S.OUT_FOR_DELIVERY, S.MISSHELVED, S.RETURNED, S.DAMAGED},
    S.OUT_FOR_DELIVERY: {S.DELIVERED, S.SHELVED, S.DAMAGED},
    S.UNKNOWN_RECIPIENT: {S.HOLDING, S.SHELVED, S.RETURNED},
    S.DAMAGED: {S.RETURNED, S.SHELVED},
    S.MISSHELVED: {S.SHELVED},
    S.PICKED_UP: set(), S.DELIVERED: set(), S.RETURNED: set(), S.VOIDED: set(),
}


class ParcelError(ValueError):
    """A change the table does not allow, or a parcel that does not exist."""


@migrations()
def m001_parcels(db: sqlite_utils.Database) -> None:
    db["parcels"].create({"id": str, "waybill": str, "carrier": str, "room": str,
                          "fresh": int, "frozen": int, "gate": str, "courier": str,
                          "company": str, "state": str, "received_at": float,
                          "changed_at": float}, pk="id")
    db["parcels"].create_index(["waybill"], unique=True)
    db["parcels"].create_index(["state"])
    db["parcel_events"].create({"id": int, "parcel": str, "state_from": str, "state_to": str,
                                "at": float, "actor": str, "place": str, "detail": str},
                               pk="id")
    db["parcel_events"].create_index(["parcel"])


def _event(db, parcel: str, before: str | None, after: str, at: float, actor: str,
           place: str = "", detail: dict | None = None) -> None:
    db["parcel_events"].insert({"parcel": parcel, "state_from": before, "state_to": after,
                                "at": at, "actor": actor, "place": place,
                                "detail": json.dumps(detail or {}, ensure_ascii=False)})


def receive(db: sqlite_utils.Database, gate: str, p: dict, at: float) -> bool:
    """A `parcel` event from a gate; False when that waybill is already here (one
    parcel however often it is scanned, at whatever gate)."""
    known = next(db.query("select id from parcels where waybill = ?", [p["waybill"]]), None)
    if known is not None:
        _event(db, known["id"], None, "duplicate_scan", at, f"{gate}/{p.get('courier')}",
               gate, {"event_parcel": p.get("id")})
        return False
    db["parcels"].insert({
        "id": p["id"], "waybill": p["waybill"], "carrier": p.get("carrier"),
        "room": p.get("room") or None, "fresh": int(bool(p.get("fresh"))),
        "frozen": int(bool(p.get("frozen"))), "gate": gate, "courier": p.get("courier"),
        "company": p.get("company"), "state": S.RECEIVED.value, "received_at": at,
        "changed_at": at})
    _event(db, p["id"], None, S.RECEIVED.value, at, f"{gate}/{p.get('courier')}", gate)
    return True


def move(db: sqlite_utils.Database, parcel: str, to: ParcelState, at: float, actor: str,
         place: str = "", detail: dict | None = None) -> None:
    """Change a parcel's state if the table allows it; row and event in one transaction."""
    with write_transaction(db):
        row = next(db.query("select state from parcels where id = ?", [parcel]), None)
        if row is None:
            raise ParcelError(f"no parcel {parcel}")
        before = ParcelState(row["state"])
        if to not in ALLOWED[before]:
            raise ParcelError(f"a parcel {before.value} cannot become {to.value}")
        db["parcels"].update(parcel, {"state": to.value, "changed_at": at})
        _event(db, parcel, before.value, to.value, at, actor, place, detail)
