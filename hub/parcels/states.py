"""A parcel's states: one table of allowed changes, an append-only history.

Every change goes through `move`, which refuses an illegal one with a clear message
and writes the new state and its event (who, where, when) in one transaction.
"""
from __future__ import annotations

import json
from enum import Enum

import sqlite_utils

from gatehouse.db import write_transaction


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
    S.HOLDING: {S.SHELVED, S.MISSHELVED, S.DAMAGED, S.UNKNOWN_RECIPIENT, S.VOIDED},
    S.SHELVED: {S.PICKED_UP, S.OUT_FOR_DELIVERY, S.MISSHELVED, S.RETURNED, S.DAMAGED},
    S.OUT_FOR_DELIVERY: {S.DELIVERED, S.SHELVED, S.DAMAGED},
    S.UNKNOWN_RECIPIENT: {S.HOLDING, S.RETURNED, S.VOIDED},
    # Back on a shelf: still standing its hold (holding) or not (shelved).
    S.DAMAGED: {S.HOLDING, S.SHELVED, S.RETURNED},
    # Not found in its slot: found again, or a kiosk's late report that it was taken.
    S.MISSHELVED: {S.HOLDING, S.SHELVED, S.DAMAGED, S.PICKED_UP},
    S.PICKED_UP: set(), S.DELIVERED: set(), S.RETURNED: set(), S.VOIDED: set(),
}
# A parcel is released (handed out or carried to a door) only from these.
RELEASES = {S.PICKED_UP, S.DELIVERED}


ZH = {S.RECEIVED: "已收件", S.HOLDING: "静置中", S.SHELVED: "已上架", S.OUT_FOR_DELIVERY: "配送中",
      S.PICKED_UP: "已取件", S.DELIVERED: "已送达", S.RETURNED: "已退回",
      S.UNKNOWN_RECIPIENT: "收件人不明", S.DAMAGED: "破损", S.MISSHELVED: "放错位置",
      S.VOIDED: "已撤销"}


class ParcelError(ValueError):
    """A change the table does not allow, or a parcel that does not exist."""


def _event(db, parcel: str, before: str | None, after: str, at: float, actor: str,
           place: str = "", detail: dict | None = None) -> None:
    db.execute("insert into parcel_events (parcel, state_from, state_to, at, actor, place, "
               "detail) values (?, ?, ?, ?, ?, ?, ?)",
               [parcel, before, after, at, actor, place,
                json.dumps(detail or {}, ensure_ascii=False)])


def move(db: sqlite_utils.Database, parcel: str, to: ParcelState, at: float, actor: str,
         place: str = "", detail: dict | None = None, expect: set[ParcelState] | None = None,
         **columns) -> ParcelState:
    """Change a parcel's state if the table allows it; row, extra `columns` and the event
    in one transaction. `expect` narrows the states it may come from. Returns the old one."""
    with write_transaction(db):
        row = db.execute("select state, waybill from parcels where id = ?", [parcel]).fetchone()
        if row is None:
            raise ParcelError(f"没有这件快递 no parcel {parcel}")
        before = ParcelState(row[0])
        if to not in ALLOWED[before] or (expect is not None and before not in expect):
            raise ParcelError(f"{row[1]}: 状态为{ZH[before]}的快递不能改为{ZH[to]} "
                              f"(a parcel {before.value} cannot become {to.value})")
        changes = {"state": to.value, "changed_at": at, **columns}
        db.execute(f"update parcels set {', '.join(f'[{k}] = ?' for k in changes)} where id = ?",
                   [*changes.values(), parcel])
        _event(db, parcel, before.value, to.value, at, actor, place, detail)
        return before
