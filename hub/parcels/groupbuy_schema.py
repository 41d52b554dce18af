"""The group purchases' tables (hub/parcels/groupbuy.py): their own migration set, listed
in hub/schema.py after the parcels' set."""
from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("gatehouse.hub.groupbuy")


@migrations()
def m001_groupbuy(db: sqlite_utils.Database) -> None:
    db["groupbuy_batches"].create({
        "id": str, "title": str, "leader": str, "source": str, "created_at": float,
        "actor": str, "fresh": int, "frozen": int, "households": int, "pieces": int,
        "digest": str}, pk="id")
    db["groupbuy_batches"].create_index(["digest"])
    db["groupbuy_batches"].create_index(["created_at"])
    # Names and phones are kept masked: the pick list needs no more.
    db["groupbuy_orders"].create({
        "id": int, "batch": str, "parcel": str, "waybill": str, "household": str,
        "building": str, "name": str, "phone": str, "items": str, "note": str,
        "lines": str}, pk="id", foreign_keys=[("batch", "groupbuy_batches", "id")])
    db["groupbuy_orders"].create_index(["batch"])
