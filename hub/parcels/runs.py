"""Door runs to sealed buildings: a run sheet per building and run (three a day by
default), fresh items first, then by unit and room; a volunteer starts delivering by
scanning the building's venue code, then marks each parcel by scanning it.

Making a sheet takes its parcels off the shelf (out for delivery); closing a run puts
whatever was not delivered back on the shelf in its slot, for the next run.
"""
from __future__ import annotations

import re
from datetime import datetime

import sqlite_utils

from gatehouse.codes.format import CodeError, verify
from gatehouse.codes.kinds import CodeKind, VenueKind
from gatehouse.db import write_transaction
from hub import policy_versions
from hub.parcels import settings
from hub.parcels.notices import door_run
from hub.parcels.states import ParcelError, ParcelState, move

S = ParcelState


def room_order(household: str | None) -> tuple:
    """7-2-301 before 7-2-1201; numbers as numbers, anything else after."""
    return tuple((0, int(x), "") if x.isdigit() else (1, 0, x)
                 for x in re.split(r"-", household or ""))


def run_number(db: sqlite_utils.Database, at: float) -> int:
    """Which of the day's runs `at` belongs to: the first whose time is not yet past + 1
    hour of slack, else the last."""
    zone = policy_versions.compound_zone(db)
    local = datetime.fromtimestamp(at, zone)
    minutes = local.hour * 60 + local.minute
    times = settings.load(db).run_times
    for i, t in enumerate(times, 1):
        h, m = map(int, t.split(":"))
        if minutes <= h * 60 + m + 60:
            return i
    return len(times)


def buildings_due(db: sqlite_utils.Database, at: float) -> list[dict]:
    """Buildings whose parcels go to the door, with how many wait on the shelf now."""
    rows = db.query("select building, count(*) as n, sum(fresh or frozen) as fresh from "
                    "parcels where state = 'shelved' and building is not null "
                    "group by building")
    return sorted((dict(r) for r in rows if door_run(db, r["building"], at)),
                  key=lambda r: room_order(r["building"]))


def make_sheet(db: sqlite_utils.Database, building: str, at: float, actor: str) -> str:
    """The next run's sheet for a building: every released parcel of it now on the shelf."""
    zone = policy_versions.compound_zone(db)
    day = datetime.fromtimestamp(at, zone).strftime("%Y-%m-%d")
    with write_transaction(db):
        if not door_run(db, building, at):
            raise ParcelError(f"{building}栋没有封控，住户自己取件 (building {building} is not "
                              "sealed: its residents pick up themselves)")
        rows = list(db.query("select id, household, fresh, frozen from parcels where "
                             "building = ? and state = 'shelved'", [building]))
        if not rows:
            raise ParcelError(f"{building}栋没有待送的快递 (nothing to deliver to {building})")
        n = run_number(db, at)
        taken = db.execute("select count(*) from run_sheets where building = ? and day = ? "
                           "and run = ?", [building, day, n]).fetchone()[0]
        run_id = f"{day}-{building}-{n}" + (f"-{taken + 1}" if taken else "")
        db["run_sheets"].insert({"id": run_id, "building": building, "day": day, "run": n,
                                 "created_at": at, "actor": actor})
        for r in rows:
            move(db, r["id"], S.OUT_FOR_DELIVERY, at, actor, "parcel-area",
                 {"run": run_id}, run=run_id)
    return run_id


def sheet(db: sqlite_utils.Database, run_id: str) -> list[dict]:
    """The run sheet's lines: fresh and frozen first, then by unit and room."""
    rows = [dict(r) for r in db.query(
        "select id, waybill, household, slot, code, fresh, frozen, carrier_name, item, "
        "state from parcels where run = ?", [run_id])]
    return sorted(rows, key=lambda r: (not (r["fresh"] or r["frozen"]),
                                       room_order(r["household"]), r["waybill"]))


def start_delivery(db: sqlite_utils.Database, run_id: str, code_text: str, trust,
                   at: float, actor: str) -> None:
    """The volunteer is at the building: its venue code, scanned there, opens delivery."""
    run = _run(db, run_id)
    code = verify(code_text.strip("\r\n\t"), trust, at)  # a space belongs to base45
    if isinstance(code, CodeError):
        raise ParcelError(f"场所码无效 venue code not valid: {code.problem.value}")
    if code.kind is not CodeKind.VENUE or code.claims.venue_kind is not VenueKind.BUILDING:
        raise ParcelError("请扫楼栋的场所码 (scan the building's venue code)")
    place = code.claims.place
    if place.lower() not in {run["building"].lower(), f"b{run['building']}".lower(),
                             f"building-{run['building']}".lower()}:
        raise ParcelError(f"这是{place}的场所码，本趟送{run['building']}栋 "
                          f"(this code is {place}'s, the run is for building {run['building']})")
    db["run_sheets"].update(run_id, {"venue_ok_at": at})


def deliver(db: sqlite_utils.Database, run_id: str, waybill: str, at: float,
            actor: str) -> dict:
    """Mark one parcel delivered by its scan; a parcel of another run is flagged."""
    run = _run(db, run_id)
    if not run["venue_ok_at"]:
        raise ParcelError("先扫楼栋场所码 (scan the building's venue code first)")
    if run["closed_at"]:
        raise ParcelError("本趟已结束 (this run is closed)")
    w = waybill.strip().upper()
    p = next(db.query("select id, run, state, household from parcels where waybill = ? or "
                      "code = ? order by state = 'out_for_delivery' desc limit 1",
                      [w, w]), None)
    if p is None:
        raise ParcelError(f"没有这件快递 {w} (no such parcel)")
    if p["run"] != run_id or p["state"] != S.OUT_FOR_DELIVERY.value:
        raise ParcelError(f"{w} 不在本趟送货单上 (not on this run sheet: {p['state']})")
    move(db, p["id"], S.DELIVERED, at, actor, f"building-{run['building']}", {"run": run_id})
    return dict(p)


def close_run(db: sqlite_utils.Database, run_id: str, at: float, actor: str) -> int:
    """End a run; undelivered parcels go back to their slot. Returns how many went back."""
    with write_transaction(db):
        if _run(db, run_id)["closed_at"]:
            raise ParcelError("本趟已结束 (this run is closed)")
        back = [r["id"] for r in db.query("select id from parcels where run = ? and state = "
                                          "'out_for_delivery'", [run_id])]
        for pid in back:
            move(db, pid, S.SHELVED, at, actor, "parcel-area", {"run": run_id, "back": True})
        db["run_sheets"].update(run_id, {"closed_at": at})
    return len(back)


def _run(db, run_id: str) -> dict:
    run = next(db.query("select * from run_sheets where id = ?", [run_id]), None)
    if run is None:
        raise ParcelError(f"没有这张送货单 no run sheet {run_id}")
    return run
