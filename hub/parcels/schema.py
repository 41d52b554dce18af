"""The parcel tables at the hub: their own migration set, listed in hub/schema.py."""
from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("gatehouse.hub.parcels")

# States in which a parcel holds its slot and its pickup code (see states.py).
SLOTTED = ("holding", "shelved", "out_for_delivery", "misshelved")


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


@migrations()
def m002_shelves(db: sqlite_utils.Database) -> None:
    for name, kind in (("household", str), ("building", str), ("slot", str), ("code", str),
                       ("hold_until", float), ("batch", str), ("item", str), ("run", str),
                       ("waiting", str), ("overdue_at", float), ("carrier_name", str)):
        db["parcels"].add_column(name, kind)
    # The database itself refuses two parcels in one slot or two live ones with one code.
    live = ", ".join(f"'{s}'" for s in SLOTTED)
    db.execute(f"create unique index parcels_slot_live on parcels(slot) "
               f"where slot is not null and state in ({live})")
    db.execute(f"create unique index parcels_code_live on parcels(code) "
               f"where code is not null and state in ({live})")
    db["parcels"].create_index(["household"])
    db["parcels"].create_index(["building", "state"])
    db["shelves"].create({"id": str, "name": str, "tiers": int, "slots": int, "cold": int,
                          "buildings": str, "sort": int}, pk="id")
    db["slots"].create({"id": str, "shelf": str, "tier": int, "pos": int}, pk="id")
    db["slots"].create_index(["shelf", "tier", "pos"], unique=True)
    db["pickup_counter"].create({"day": str, "n": int}, pk="day")
    db["run_sheets"].create({"id": str, "building": str, "day": str, "run": int,
                             "created_at": float, "actor": str, "closed_at": float,
                             "venue_ok_at": float}, pk="id")
    db["audit_sheets"].create({"id": int, "created_at": float, "actor": str,
                               "closed_at": float}, pk="id")
    db["audit_lines"].create({"id": int, "sheet": int, "slot": str, "parcel": str,
                              "waybill": str, "found": str, "result": str, "at": float,
                              "actor": str}, pk="id")
    db["audit_lines"].create_index(["sheet", "slot"])


@migrations()
def m003_slot_occupant(db: sqlite_utils.Database) -> None:
    # Each slot knows its parcel, kept by triggers on every change of a parcel's state
    # or slot, so finding a free slot is one index lookup however full the shelves are.
    live = ", ".join(f"'{s}'" for s in SLOTTED)
    db["slots"].add_column("parcel", str)
    db.execute("create index slots_free on slots(shelf, tier, pos) where parcel is null")
    db.execute(f"""create trigger parcels_slot_in after update of state, slot on parcels
        when new.slot is not null and new.state in ({live})
        begin update slots set parcel = new.id where id = new.slot; end""")
    db.execute(f"""create trigger parcels_slot_out after update of state, slot on parcels
        when old.slot is not null and old.state in ({live})
             and (new.state not in ({live}) or new.slot is not old.slot)
        begin update slots set parcel = null where id = old.slot and parcel = old.id; end""")
    db.execute(f"""create trigger parcels_slot_new after insert on parcels
        when new.slot is not null and new.state in ({live})
        begin update slots set parcel = new.id where id = new.slot; end""")
    db.execute("""create trigger parcels_slot_gone after delete on parcels
        when old.slot is not null
        begin update slots set parcel = null where id = old.slot and parcel = old.id; end""")
    fill_occupants(db)


def fill_occupants(db: sqlite_utils.Database, shelf: str | None = None) -> None:
    """Set each slot's parcel from the parcels table (after slots were made anew)."""
    live = ", ".join(f"'{s}'" for s in SLOTTED)
    db.execute(f"update slots set parcel = (select id from parcels p where p.slot = slots.id "
               f"and p.state in ({live})) where ? is null or shelf = ?", [shelf, shelf])


@migrations()
def m004_code_index(db: sqlite_utils.Database) -> None:
    # Pickup codes are not given again for a week: looked up among all recent parcels.
    db["parcels"].create_index(["code"], index_name="parcels_code_any")


REOPEN_MARK = "parcels.building_events_seen"


@migrations()
def m005_reopen_mark(db: sqlite_utils.Database) -> None:
    # The parcel timers tell households when their building reopens, reading building
    # changes after this mark: an existing hub starts from now, not from its history.
    last = db.execute("select coalesce(max(id), 0) from building_events").fetchone()[0]
    db["meta"].upsert({"key": REOPEN_MARK, "value": str(last)}, pk="key")
