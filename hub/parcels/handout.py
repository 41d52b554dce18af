"""A parcel's way out: picked up at the parcel-area kiosk, returned to the courier, or
set aside as an exception (damaged, mis-shelved). Door runs are in runs.py."""
from __future__ import annotations

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.event_payloads import PickupPayload
from hub.alert_kinds import AlertKind as A
from hub.parcels.states import ParcelError, ParcelState, _event, move
from hub.alert_log import add_alert as _alert

S = ParcelState


def pickup_event(db: sqlite_utils.Database, gate: str, event_id: str, p: PickupPayload,
                 at: float) -> None:
    """A `pickup` event from a parcel-area kiosk (taken, or a wrong parcel flagged there).

    The kiosk's word is what happened at the shelf; the hub records it and raises an
    alert for whatever does not fit (a parcel not on the shelf, a hold not yet over)."""
    row = next(db.query("select id, state, hold_until, household from parcels where id = ? "
                        "or waybill = ? limit 1", [p.parcel or "", (p.waybill or "").upper()]),
               None)
    actor = f"{gate}/{p.volunteer or p.via or 'resident'}"
    role = db.execute("select role from gates where id = ?", [gate]).fetchone()
    if not role or role[0] != "parcels":
        # Only the kiosks at the shelves hand parcels out: an entrance gate's word (or a
        # stolen gate login's) moves nothing.
        _alert(db, at, gate, A.PICKUP_FROM_OTHER_GATE, event_id,
               {"waybill": p.waybill, "outcome": p.outcome})
        return
    if p.outcome == "codes_paused":  # wrong pickup codes keyed one after another
        _alert(db, at, gate, A.PICKUP_CODES_PAUSED, event_id,
               {"paused_until": p.paused_until, "wrong_codes": p.wrong_codes})
        return
    if p.outcome != "taken":
        if row is not None:
            _event(db, row["id"], None, "wrong_pickup", at, actor, gate,
                   {"why": p.why, "household": p.household})
        _alert(db, at, gate, A.PARCEL_WRONG_PICKUP, event_id,
               {"waybill": p.waybill, "why": p.why})
        return
    if row is None:
        _alert(db, at, gate, A.PARCEL_PICKUP_UNKNOWN, event_id, {"waybill": p.waybill})
        return
    if p.household and row["household"] and p.household != row["household"]:
        _alert(db, at, gate, A.PARCEL_PICKUP_CONFLICT, event_id,
               {"waybill": p.waybill, "household": p.household})
        return
    with write_transaction(db):
        state = ParcelState(row["state"])
        if state is S.HOLDING:
            early = at < (row["hold_until"] or 0)
            if early:
                _alert(db, at, gate, A.PARCEL_EARLY_RELEASE, event_id,
                       {"waybill": p.waybill, "hold_until": row["hold_until"]})
            move(db, row["id"], S.SHELVED, min(at, row["hold_until"] or at), "hold-timer",
                 detail={"early": early} if early else None)
            state = S.SHELVED
        if state is S.MISSHELVED:  # the audit missed it because it had been taken
            _alert(db, at, gate, A.PARCEL_PICKUP_CONFLICT, event_id,
                   {"waybill": p.waybill, "state": state.value})
        elif state is not S.SHELVED:
            _alert(db, at, gate, A.PARCEL_PICKUP_CONFLICT, event_id,
                   {"waybill": p.waybill, "state": state.value})
            return
        move(db, row["id"], S.PICKED_UP, at, actor, gate,
             {"via": p.via, "code": p.code, "event": event_id})


def return_to_courier(db: sqlite_utils.Database, parcel: str, at: float, actor: str,
                      note: str = "") -> None:
    """Handed back to the courier (overdue, refused, damaged): recorded with a note."""
    move(db, parcel, S.RETURNED, at, actor, "parcel-area", {"note": note})


def mark(db: sqlite_utils.Database, parcel: str, to: ParcelState, at: float, actor: str,
         note: str = "") -> None:
    """An exception the volunteers found: damaged, or not in its slot (mis-shelved)."""
    if to not in (S.DAMAGED, S.MISSHELVED):
        raise ParcelError(f"not an exception state: {to.value}")
    move(db, parcel, to, at, actor, "parcel-area", {"note": note})
