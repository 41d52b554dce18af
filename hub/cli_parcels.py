"""`hub shelf ...` and `hub parcels ...`: the parcel area from the command line."""
from __future__ import annotations

import time

import click

from gatehouse.cli_common import fail, home_option, print_json
from hub.cli_compound import open_compound as _open
from hub.parcels import settings, shelving
from hub.parcels.worker import tick


@click.group("shelf")
def shelf_group() -> None:
    """Shelves, tiers and slots of the parcel area."""


@shelf_group.command("add")
@home_option
@click.argument("shelf_id")
@click.option("--tiers", type=int, required=True)
@click.option("--slots", type=int, required=True, help="Slots per tier.")
@click.option("--cold", is_flag=True, help="A cold shelf (fresh and frozen food).")
@click.option("--buildings", default="", help="Kept for these buildings: 1,2,3 (none: all).")
@click.option("--name", default="")
@click.option("--sort", type=int, default=0)
def shelf_add(home, shelf_id, tiers, slots, cold, buildings, name, sort) -> None:
    """Add or reshape a shelf (slots holding a parcel are never removed)."""
    db = _open(home).db
    bl = tuple(b.strip() for b in buildings.split(",") if b.strip())
    try:
        shelving.define_shelf(db, shelving.Shelf(shelf_id.upper(), name, tiers, slots, cold,
                                                 bl, sort))
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"shelf {shelf_id.upper()}: {tiers} tiers x {slots} slots"
               f"{' (cold)' if cold else ''}{' for ' + ','.join(bl) if bl else ''}")


@shelf_group.command("list")
@home_option
def shelf_list(home) -> None:
    """Each shelf with its size, buildings and how many slots are in use, as JSON lines."""
    db = _open(home).db
    busy = shelving.occupancy(db)
    for s in shelving.shelves(db):
        used = sum(1 for k, r in busy.items() if r["shelf"] == s.id and r["id"])
        print_json({"shelf": s.id, "tiers": s.tiers, "slots": s.slots, "cold": s.cold,
                    "buildings": list(s.buildings), "used": used, "capacity": s.capacity})


@shelf_group.command("remove")
@home_option
@click.argument("shelf_id")
def shelf_remove(home, shelf_id) -> None:
    """Remove an empty shelf."""
    try:
        shelving.remove_shelf(_open(home).db, shelf_id.upper())
    except ValueError as exc:
        fail(str(exc))


@click.group("parcels")
def parcels_group() -> None:
    """The parcel area: settings, timers, a parcel's history."""


@parcels_group.command("settings")
@home_option
@click.option("--hold-minutes", type=float)
@click.option("--fresh-hold-minutes", type=float)
@click.option("--overdue-days", type=float)
@click.option("--run-times", help="Door runs, e.g. 10:00,15:00,19:00")
def parcels_settings(home, hold_minutes, fresh_hold_minutes, overdue_days, run_times) -> None:
    """Show the settings, or change the ones given."""
    db = _open(home).db
    doc = settings.load(db).model_dump()
    changes = {"hold_minutes": hold_minutes, "fresh_hold_minutes": fresh_hold_minutes,
               "overdue_days": overdue_days,
               "run_times": tuple(run_times.split(",")) if run_times else None}
    doc.update({k: v for k, v in changes.items() if v is not None})
    try:
        new = settings.ParcelSettings.model_validate(doc)
    except ValueError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else "invalid settings")
    settings.save(db, new)
    print_json(new.model_dump())


@parcels_group.command("tick")
@home_option
def parcels_tick(home) -> None:
    """One pass of the timers (holds ended, waiting parcels, overdue); `hub serve` runs
    them every few seconds."""
    print_json(tick(_open(home).db, time.time()))


@parcels_group.command("show")
@home_option
@click.argument("waybill")
def parcels_show(home, waybill) -> None:
    """A parcel and its whole history."""
    db = _open(home).db
    p = next(db.query("select * from parcels where waybill = ? or code = ?",
                      [waybill.upper(), waybill.upper()]), None)
    if p is None:
        fail(f"no parcel {waybill}")
    print_json({**p, "history": list(db.query(
        "select state_from, state_to, at, actor, place, detail from parcel_events where "
        "parcel = ? order by id", [p["id"]]))})


__all__ = ["shelf_group", "parcels_group", "ParcelError"]
