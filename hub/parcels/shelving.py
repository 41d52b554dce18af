"""Shelves, tiers and slots, and the rule that gives each parcel one slot and a code.

The rule, in order: frozen goes to a cold shelf and nowhere else; fresh prefers a cold
shelf while more than a quarter of the cold slots are free (the rest is kept for
frozen food, which has nowhere else to go); every parcel prefers a shelf kept for its building (door runs and pickups stay
on one shelf), then a shelf open to all buildings. Within a shelf, the lowest tier
and position first. A slot holds one parcel (the database refuses a second). When no
candidate has room the caller hears which area is full, in words.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.days import local_day
from hub.parcels.schema import SLOTTED, fill_occupants

CODE_REUSE_S = 7 * 86400  # a pickup code is not given again for a week
COLD_RESERVE = 0.25  # of the cold slots, kept for frozen food once fresh food fills the rest
SHELF_ID = re.compile(r"^[A-Z][A-Z0-9]{0,3}$")
_LIVE = ", ".join(f"'{s}'" for s in SLOTTED)


class ShelfFull(Exception):
    """No slot for this parcel: the message names the area for the volunteers."""


@dataclass(frozen=True)
class Shelf:
    id: str
    name: str
    tiers: int
    slots: int          # per tier
    cold: bool
    buildings: tuple[str, ...]  # () = open to every building
    sort: int = 0

    @property
    def capacity(self) -> int:
        return self.tiers * self.slots


def slot_id(shelf: str, tier: int, pos: int) -> str:
    return f"{shelf}-{tier}-{pos:02d}"


def define_shelf(db: sqlite_utils.Database, shelf: Shelf) -> None:
    """Add or reshape a shelf. Slots with a parcel in them are never removed."""
    if not SHELF_ID.match(shelf.id):
        raise ValueError("货架编号为大写字母开头，最多4位 (shelf id: a capital letter, up to 4)")
    if not (1 <= shelf.tiers <= 20 and 1 <= shelf.slots <= 200):
        raise ValueError("层数 1-20，每层格数 1-200 (tiers 1-20, slots per tier 1-200)")
    with write_transaction(db):
        wanted = {slot_id(shelf.id, t, p): (t, p) for t in range(1, shelf.tiers + 1)
                  for p in range(1, shelf.slots + 1)}
        busy = {r["slot"] for r in db.query(
            f"select slot from parcels where slot like ? and state in ({_LIVE})",
            [f"{shelf.id}-%"])}
        lost = busy - set(wanted)
        if lost:
            raise ValueError(f"这些格子里还有快递 slots still hold parcels: {', '.join(sorted(lost))}")
        db.execute("delete from slots where shelf = ?", [shelf.id])
        db["slots"].insert_all({"id": k, "shelf": shelf.id, "tier": t, "pos": p}
                               for k, (t, p) in wanted.items())
        fill_occupants(db, shelf.id)
        db["shelves"].upsert({"id": shelf.id, "name": shelf.name or shelf.id,
                              "tiers": shelf.tiers, "slots": shelf.slots,
                              "cold": int(shelf.cold),
                              "buildings": json.dumps(list(shelf.buildings)),
                              "sort": shelf.sort}, pk="id")


def remove_shelf(db: sqlite_utils.Database, shelf: str) -> None:
    with write_transaction(db):
        if db.execute(f"select count(*) from parcels where slot like ? and state in ({_LIVE})",
                      [f"{shelf}-%"]).fetchone()[0]:
            raise ValueError(f"货架{shelf}上还有快递 shelf {shelf} still holds parcels")
        db.execute("delete from slots where shelf = ?", [shelf])
        db.execute("delete from shelves where id = ?", [shelf])


def shelves(db: sqlite_utils.Database) -> list[Shelf]:
    return [Shelf(r["id"], r["name"], r["tiers"], r["slots"], bool(r["cold"]),
                  tuple(json.loads(r["buildings"] or "[]")), r["sort"] or 0)
            for r in db.query("select * from shelves order by sort, id")]


def candidates(all_shelves: list[Shelf], building: str, fresh: bool,
               frozen: bool, cold_room: bool = True) -> list[Shelf]:
    """The shelves a parcel may go to, best first (the rule in the module's docstring).
    `cold_room`: whether fresh food may still take a cold slot (frozen food has no
    other place, so the last part of the cold shelves is kept for it)."""
    def mine(s):
        return building in s.buildings

    def open_(s):
        return not s.buildings
    cold = [s for s in all_shelves if s.cold]
    plain = [s for s in all_shelves if not s.cold]
    if frozen:
        return [s for s in cold if mine(s)] + [s for s in cold if open_(s)]
    order = [s for s in plain if mine(s)] + [s for s in plain if open_(s)]
    if fresh and cold_room:
        order = [s for s in cold if mine(s)] + [s for s in cold if open_(s)] + order
    return order


def free_slot(db: sqlite_utils.Database, shelf: str) -> tuple[str, int] | None:
    row = db.execute("select id, tier from slots where shelf = ? and parcel is null "
                     "order by tier, pos limit 1", [shelf]).fetchone()
    return (row[0], row[1]) if row else None


def choose_slot(db: sqlite_utils.Database, building: str, fresh: bool,
                frozen: bool) -> tuple[Shelf, str, int]:
    """(shelf, slot, tier) for a parcel, or ShelfFull saying which area has no room."""
    all_shelves = shelves(db)
    cold_room = True
    if fresh and not frozen:
        cold = [s for s in all_shelves if s.cold]
        if cold:
            marks = ",".join("?" * len(cold))
            free = db.execute(f"select count(*) from slots where parcel is null and shelf in "
                              f"({marks})", [s.id for s in cold]).fetchone()[0]
            cold_room = free > COLD_RESERVE * sum(s.capacity for s in cold)
    order = candidates(all_shelves, building, fresh, frozen, cold_room)
    for shelf in order:
        found = free_slot(db, shelf.id)
        if found:
            return shelf, found[0], found[1]
    if not all_shelves:
        raise ShelfFull("还没有设置货架 no shelves are set up yet")
    names = "、".join(s.id for s in order) or "无"
    if frozen:
        raise ShelfFull(f"冷柜已满（{names}），冻品无处存放 — cold shelves full for a frozen parcel")
    raise ShelfFull(f"{building}栋可用货架已满（{names}） — no free slot for building {building}")


def next_code(db: sqlite_utils.Database, shelf: str, tier: int, at: float, zone: ZoneInfo,
              start: int) -> str:
    """shelf-tier-number, the number from the day's counter; never one a live parcel has."""
    day = local_day(at, zone)
    row = db.execute("select n from pickup_counter where day = ?", [day]).fetchone()
    n = row[0] + 1 if row else start
    while True:
        code = f"{shelf}-{tier}-{n}"
        # Never one a live parcel has, nor one given out in the last week: yesterday's
        # message must not open someone else's parcels today.
        clash = db.execute(f"select 1 from parcels where code = ? and (state in ({_LIVE}) "
                           f"or received_at > ?)", [code, at - CODE_REUSE_S]).fetchone()
        if not clash:
            break
        n += 1
    db.execute("insert or replace into pickup_counter (day, n) values (?, ?)", [day, n])
    return code


def occupancy(db: sqlite_utils.Database) -> dict[str, dict]:
    """Every slot with the parcel in it (or None): what the shelf board draws."""
    rows = db.query(
        f"select s.id as slot, s.shelf, s.tier, s.pos, p.id, p.waybill, p.household, "
        f"p.building, p.code, p.state, p.hold_until, p.fresh, p.frozen, p.carrier, "
        f"p.carrier_name, p.received_at, p.overdue_at from slots s left join parcels p on "
        f"p.slot = s.id and p.state in ({_LIVE}) order by s.shelf, s.tier, s.pos")
    return {r["slot"]: r for r in rows}
