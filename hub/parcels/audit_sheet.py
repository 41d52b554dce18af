"""The daily audit sheet: what the shelves should hold, slot by slot, for a volunteer
to walk and reconcile. Each slot is recorded as found (the parcel's scan), empty or
holding another parcel; closing the sheet marks parcels not found as mis-shelved."""
from __future__ import annotations

import sqlite_utils

from gatehouse.db import write_transaction
from hub.parcels.states import ParcelError, ParcelState, move

S = ParcelState
ON_SHELF = ("holding", "shelved")  # out-for-delivery parcels are not at the shelf


def open_sheet(db: sqlite_utils.Database, at: float, actor: str) -> int:
    with write_transaction(db):
        sheet = db["audit_sheets"].insert({"created_at": at, "actor": actor}).last_pk
        db["audit_lines"].insert_all(
            {"sheet": sheet, "slot": r["slot"], "parcel": r["id"], "waybill": r["waybill"]}
            for r in db.query("select id, slot, waybill from parcels where slot is not null "
                              f"and state in {ON_SHELF!r} order by slot"))
    return sheet


def lines(db: sqlite_utils.Database, sheet: int) -> list[dict]:
    return [dict(r) for r in db.query("select * from audit_lines where sheet = ? order by slot",
                                      [sheet])]


def record(db: sqlite_utils.Database, sheet: int, slot: str, found: str, at: float,
           actor: str) -> str:
    """What was in the slot: a waybill scanned there, or '' for an empty slot.
    Returns the result: ok, missing, other (another parcel in it) or extra."""
    found = found.strip().upper()
    with write_transaction(db):
        if db.execute("select closed_at from audit_sheets where id = ?",
                      [sheet]).fetchone()[0]:
            raise ParcelError("这张盘点表已结束 (this audit sheet is closed)")
        line = next(db.query("select * from audit_lines where sheet = ? and slot = ?",
                             [sheet, slot]), None)
        if line is None:
            result = "extra" if found else "ok"
            db["audit_lines"].insert({"sheet": sheet, "slot": slot, "found": found,
                                      "result": result, "at": at, "actor": actor})
            return result
        result = "ok" if found == line["waybill"] else ("missing" if not found else "other")
        db["audit_lines"].update(line["id"], {"found": found, "result": result, "at": at,
                                              "actor": actor})
    return result


def close_sheet(db: sqlite_utils.Database, sheet: int, at: float, actor: str) -> dict:
    """Parcels not where they should be become mis-shelved (the shelf board shows them)."""
    with write_transaction(db):
        counts: dict[str, int] = {}
        for line in lines(db, sheet):
            result = line["result"] or "unchecked"
            counts[result] = counts.get(result, 0) + 1
            if result in ("missing", "other") and line["parcel"]:
                state = db.execute("select state from parcels where id = ?",
                                   [line["parcel"]]).fetchone()[0]
                if state in ON_SHELF:
                    move(db, line["parcel"], S.MISSHELVED, at, actor, "parcel-area",
                         {"sheet": sheet, "slot": line["slot"], "found": line["found"]})
        db["audit_sheets"].update(sheet, {"closed_at": at})
    return counts
