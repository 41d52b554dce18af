"""Group purchases (团购): a leader's order list split into one parcel per household,
with per-building pick lists sorted by room.

Reading the list is hub.parcels.order_import (接龙 text, 快团团 CSV/xlsx; re-exported here);
`import_batch` writes the batch and its parcels in one transaction (all or nothing).

Its tables are hub/parcels/groupbuy_schema.py (the set "gatehouse.hub.groupbuy").
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.privacy import mask_name, mask_phone
from hub.parcels import notices
from hub.parcels.intake import create_item
from hub.parcels.order_import import (
    Order,
    Parsed,
    RowError,
    parse,
    parse_jielong,
    parse_ktt,
)

__all__ = ["GroupBuyError", "Order", "Parsed", "RowError", "batch_orders", "batches",
           "find_repeat", "get_batch", "import_batch", "masked_phone", "parse",
           "parse_jielong", "parse_ktt", "pick_lists", "room_key"]

class GroupBuyError(ValueError):
    """A batch that cannot be imported; the text says why (Chinese, then English)."""


# Pick lists -------------------------------------------------------------------------

def _natural(part: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.findall(r"\d+|\D+", part))


def room_key(household: str) -> tuple:
    """7-2-301 before 7-2-1201; building 10 after 9; no unit sorts before unit 1."""
    parts = household.split("-")
    building, room = parts[0], parts[-1]
    unit = parts[1] if len(parts) == 3 else ""
    return _natural(building), _natural(unit), _natural(room)


def pick_lists(orders: list[Order]) -> dict[str, list[Order]]:
    """Orders by building (in building order), each list sorted by unit, then room."""
    out: dict[str, list[Order]] = {}
    for o in sorted(orders, key=lambda o: room_key(o.household)):
        out.setdefault(o.building, []).append(o)
    return out


# The database -----------------------------------------------------------------------

def digest(orders: list[Order]) -> str:
    """The same orders give the same digest, however they were written."""
    doc = sorted((o.household, sorted(o.items)) for o in orders)
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False).encode()).hexdigest()


def find_repeat(db: sqlite_utils.Database, orders: list[Order]) -> dict | None:
    """A batch already imported with exactly these orders (the leader sent it twice)."""
    return next(db.query("select * from groupbuy_batches where digest = ? order by "
                         "created_at desc limit 1", [digest(orders)]), None)


def import_batch(db: sqlite_utils.Database, *, title: str, leader: str, orders: list[Order],
                 at: float, actor: str, fresh: bool = False, frozen: bool = False,
                 source: str = "", place: str = "office", again: bool = False,
                 leader_phone: str = "") -> str:
    """The batch and one parcel per household, in one transaction; returns the batch id.

    Refuses an empty batch and, unless `again`, one whose orders were imported before.
    """
    if not orders:
        raise GroupBuyError("没有订单 no orders to import")
    if not leader.strip():
        raise GroupBuyError("请填写团长 the group leader is required")
    batch = uuid.uuid4().hex
    with write_transaction(db):
        repeat = find_repeat(db, orders)
        if repeat and not again:
            raise GroupBuyError(f"这些订单已作为「{repeat['title']}」导入过 these orders were "
                                f"already imported (batch {repeat['id'][:8]})")
        db["groupbuy_batches"].insert({
            "id": batch, "title": title.strip()[:80] or "团购",
            "leader": mask_name(leader.strip()[:40]),
            "source": source, "created_at": at, "actor": actor, "fresh": int(fresh),
            "frozen": int(frozen), "households": len(orders),
            "pieces": sum(o.pieces for o in orders), "digest": digest(orders)})
        for n, o in enumerate(sorted(orders, key=lambda o: room_key(o.household)), 1):
            waybill = f"GB{batch[:6].upper()}-{n:04d}"
            parcel = create_item(db, waybill=waybill, household=o.household, at=at,
                                 actor=actor, place=place, fresh=fresh, frozen=frozen,
                                 batch=batch, item=o.item_text[:200])
            db["groupbuy_orders"].insert({
                "batch": batch, "parcel": parcel, "waybill": waybill,
                "household": o.household, "building": o.building,
                "name": mask_name(o.name), "phone": masked_phone(o.phone),
                "items": json.dumps(o.items, ensure_ascii=False), "note": o.note,
                "lines": json.dumps(list(o.lines))})
        by_building: dict[str, list[str]] = {}
        for o in orders:
            by_building.setdefault(o.building, []).append(o.household)
        for building, households in sorted(by_building.items()):  # one message a building
            notices.batch_arrived(db, building, title.strip()[:80] or "团购",
                                  sorted(households, key=room_key), batch, at, leader_phone)
    return batch


def masked_phone(phone: str | None) -> str:
    """138****1234; an export that came masked already stays as it is."""
    return "" if not phone else phone if "*" in phone else mask_phone(phone)


def batches(db: sqlite_utils.Database, limit: int = 100) -> list[dict]:
    return list(db.query("select * from groupbuy_batches order by created_at desc limit ?",
                         [limit]))


def get_batch(db: sqlite_utils.Database, batch: str) -> dict | None:
    return next(db.query("select * from groupbuy_batches where id = ?", [batch]), None)


def batch_orders(db: sqlite_utils.Database, batch: str) -> list[tuple[Order, dict]]:
    """Each household's order (names masked) with its parcel's slot, code and state."""
    rows = db.query(
        "select o.*, p.slot, p.code, p.state from groupbuy_orders o "
        "left join parcels p on p.id = o.parcel where o.batch = ?", [batch])
    out = []
    for r in rows:
        lines = json.loads(r["lines"])
        order = Order(lines[0], r["household"], r["building"], r["name"], r["phone"] or None,
                      [tuple(i) for i in json.loads(r["items"])], r["note"] or "",
                      tuple(lines))
        out.append((order, {k: r[k] for k in ("parcel", "waybill", "slot", "code", "state")}))
    return sorted(out, key=lambda t: room_key(t[0].household))
