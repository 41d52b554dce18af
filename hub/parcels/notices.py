"""What residents are told about their parcels, through the notification outbox.

One message per household (it lists every parcel ready for them, and is rewritten
while it waits to be sent, so three parcels in a morning are one message); a sealed
building's households are told their parcels come to the door instead.
"""
from __future__ import annotations

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.policy.model import BuildingStatus
from hub import building_status, meta, notify
from hub.parcels import settings
from hub.parcels.schema import REOPEN_MARK

DOOR_RUN = (BuildingStatus.SEALED, BuildingStatus.CONTROLLED)


def door_run(db: sqlite_utils.Database, building: str | None, at: float) -> bool:
    """Whether this building's parcels go to the door (its residents may not come out)."""
    return building_status.building_status_at(db, building, at) in DOOR_RUN


def _compound(db) -> str:
    return meta.get_meta(db, "compound", "") or ""


def pickup_ready(db: sqlite_utils.Database, household: str, building: str | None,
                 at: float) -> None:
    # A group purchase's items are announced per building (batch_arrived), not again here.
    rows = list(db.query("select code, slot, carrier_name, fresh, frozen from parcels where "
                         "household = ? and state = 'shelved' and batch is null order by code",
                         [household]))
    if not rows:
        return
    if door_run(db, building, at):
        body = (f"【{_compound(db)}】您有{len(rows)}件快递已消杀，将由志愿者按趟次送到楼下，"
                "请留意。")
        notify.queue(db, kind="pickup", key=f"household:{household}:door", body=body,
                     at=at, household=household, building=building)
        return
    body = notify.pickup_body([(r["code"], r["slot"], r["carrier_name"] or "",
                                bool(r["fresh"] or r["frozen"])) for r in rows],
                              _compound(db))
    notify.queue(db, kind="pickup", key=f"household:{household}", body=body, at=at,
                 household=household, building=building)


def building_reopened(db: sqlite_utils.Database, building: str, at: float) -> None:
    """A building's residents may come out again: those with parcels on the shelf get
    their pickup codes (they were told the parcels would come to the door)."""
    if door_run(db, building, at):
        return
    households = [r["household"] for r in db.query(
        "select distinct household from parcels where building = ? and state = 'shelved'",
        [building])]
    for household in households:
        pickup_ready(db, household, building, at)


def reopened_since_last(db: sqlite_utils.Database) -> int:
    """Tell the households of every building that reopened since the last pass (the
    parcel timers run this): building changes are the office's, parcels only follow
    them. Returns how many changes were read."""
    seen = int(meta.get_meta(db, REOPEN_MARK, "0") or 0)
    changes = list(db.query("select id, building, at from building_events where id > ? "
                            "order by id", [seen]))
    if not changes:
        return 0
    with write_transaction(db):
        for c in changes:
            building_reopened(db, c["building"], c["at"])
        meta.set_meta(db, REOPEN_MARK, str(changes[-1]["id"]))
    return len(changes)


def overdue(db: sqlite_utils.Database, household: str, at: float) -> None:
    rows = list(db.query("select code from parcels where household = ? and state = 'shelved' "
                         "and overdue_at is not null order by code", [household]))
    if rows:
        days = int(settings.load(db).overdue_days)
        notify.queue(db, kind="overdue", key=f"household:{household}:overdue",
                     body=notify.overdue_body([r["code"] for r in rows], days, _compound(db)),
                     at=at, household=household)


def batch_arrived(db: sqlite_utils.Database, building: str, title: str,
                  households: list[str], batch: str, at: float, leader_phone: str = "") -> None:
    """A group purchase: one message per building, to the group leader's phone when the
    office has it (else to the webhook, which routes it to the building's group); the
    leader's chain and the pick lists do the rest."""
    notify.queue(db, kind="batch", key=f"building:{building}:batch:{batch}",
                 body=notify.batch_body(building, title, households, _compound(db)), at=at,
                 building=building, recipient=leader_phone or "")
