"""A parcel's way in: from a gate's drop-off (or a group purchase) to a slot on a shelf.

`receive` takes the gates' `parcel` events inside the ingest transaction; `place`
gives the parcel its slot, pickup code and hold (standing time), or says why it
cannot: no such household (unknown recipient), or the shelf area is full (the parcel
waits, fresh first, and is placed as soon as a slot frees). `release_due` ends holds.
"""
from __future__ import annotations

import uuid

import sqlite_utils

from gatehouse.db import write_transaction
from gatehouse.event_payloads import ParcelPayload
from gatehouse.households import parse_room
from gatehouse.parcels import carrier_of, valid_waybill
from hub import alert_log, policy_versions
from hub.alert_kinds import AlertKind
from hub.parcels import notices, settings, shelving
from hub.parcels.states import ParcelError, ParcelState, _event, move

S = ParcelState
RELEASE_CHUNK = 200
VOIDABLE = {S.RECEIVED.value, S.HOLDING.value, S.UNKNOWN_RECIPIENT.value}
def _resolve(db: sqlite_utils.Database, household: str) -> str:
    """A room keyed without its unit (7-301) is the one household the residents list has
    for it (7-2-301); anything else stays as keyed."""
    parts = household.split("-")
    if len(parts) != 2 or _known_household(db, household):
        return household
    rows = db.execute("select distinct household from residents where building = ? and "
                      "room = ?", parts).fetchall()
    return rows[0][0] if len(rows) == 1 else household


def _known_household(db: sqlite_utils.Database, household: str) -> bool:
    """Against the residents list once there is one (a demo compound has none yet)."""
    if not db.execute("select 1 from residents limit 1").fetchone():
        return True
    return bool(db.execute("select 1 from residents where household = ? limit 1",
                           [household]).fetchone())


def receive(db: sqlite_utils.Database, gate: str, p: ParcelPayload, at: float,
            placed_at: float | None = None) -> bool:
    """A `parcel` event from a gate (`at`: the drop-off, by the gate's clock; the hold
    counts from it); False when that waybill is already here (one parcel however often
    it is scanned, at whatever gate). `placed_at`: when the hub has it and gives it a
    slot — later than `at` when the gate was offline."""
    waybill = p.waybill.strip().upper()
    if not valid_waybill(waybill):
        raise ParcelError(f"not a waybill number: {waybill[:40]!r}")
    known = next(db.query("select id, state from parcels where waybill = ?", [waybill]), None)
    if known is not None and known["state"] == S.VOIDED.value:
        # Undone at the gate (a wrong room, say) and scanned again: the voided row keeps
        # its history under a marked waybill, the new scan is the parcel.
        db.execute("update parcels set waybill = ? where id = ?",
                   [f"{waybill}~{known['id'][:8]}", known["id"]])
    elif known is not None:
        _event(db, known["id"], None, "duplicate_scan", at, f"{gate}/{p.courier}",
               gate, {"event_parcel": p.id})
        return False
    carrier = carrier_of(waybill)
    if p.clock_trusted is False and placed_at:
        at = max(at, placed_at)  # the gate's clock was unsure: the hold counts from now
    create(db, id=p.id, waybill=waybill, room=p.room or "", at=at,
           actor=f"{gate}/{p.courier}", place=gate, fresh=p.fresh, frozen=p.frozen,
           gate=gate, courier=p.courier, company=p.company,
           carrier=p.carrier or (carrier and carrier[0]),
           carrier_name=p.carrier_name or (carrier and carrier[1]), placed_at=placed_at)
    # The volunteer's undo can reach the hub before the parcel it undoes.
    if db.execute("select 1 from gate_events where gate = ? and kind = 'parcel_void' and "
                  "json_extract(payload, '$.parcel') = ?", [gate, p.id]).fetchone():
        void(db, p.id, gate, at, f"{gate}/undo")
    return True


def void(db: sqlite_utils.Database, parcel: str, gate: str, at: float, actor: str) -> bool:
    """The gate's volunteer undid the scan: only the gate that recorded it may."""
    row = next(db.query("select state from parcels where id = ? and gate = ?",
                        [parcel, gate]), None)
    if row is None or row["state"] == S.VOIDED.value:
        return False
    if row["state"] not in VOIDABLE:  # already on a shelf and handed on: not an undo
        alert_log.add_alert(db, at, gate, AlertKind.PARCEL_VOID_REFUSED, parcel,
                            {"state": row["state"]})
        return False
    move(db, parcel, S.VOIDED, at, actor, gate)
    return True


def create_item(db: sqlite_utils.Database, *, waybill: str, household: str, at: float,
                actor: str, place: str, fresh: bool = False, frozen: bool = False,
                batch: str | None = None, item: str | None = None) -> str:
    """A parcel that did not come through a gate scan (a group purchase's household item)."""
    pid = uuid.uuid4().hex
    create(db, id=pid, waybill=waybill.strip().upper(), room=household, at=at, actor=actor,
           place=place, fresh=fresh, frozen=frozen, batch=batch, item=item)
    return pid


def create(db: sqlite_utils.Database, *, id: str, waybill: str, room: str, at: float,
           actor: str, place: str, fresh: bool = False, frozen: bool = False,
           batch: str | None = None, item: str | None = None, gate: str | None = None,
           courier: str | None = None, company: str | None = None,
           carrier: str | None = None, carrier_name: str | None = None,
           placed_at: float | None = None) -> str:
    with write_transaction(db):
        if db.execute("select 1 from parcels where waybill = ?", [waybill]).fetchone():
            raise ParcelError(f"运单号{waybill}已登记 waybill {waybill} is already recorded")
        hh = parse_room(room)
        row = {"id": id, "waybill": waybill, "carrier": carrier, "carrier_name": carrier_name,
               "room": room or None, "household": hh[0] if hh else None,
               "building": hh[1] if hh else None, "fresh": int(fresh), "frozen": int(frozen),
               "gate": gate, "courier": courier, "company": company, "batch": batch,
               "item": item, "state": S.RECEIVED.value, "received_at": at, "changed_at": at}
        db.execute(f"insert into parcels ({', '.join(row)}) values "
                   f"({', '.join('?' * len(row))})", list(row.values()))
        _event(db, id, None, S.RECEIVED.value, at, actor, place,
               {"batch": batch} if batch else None)
        place_parcel(db, id, max(at, placed_at or at), "shelf-rule")
    return id


def place_parcel(db: sqlite_utils.Database, parcel: str, at: float, actor: str) -> ParcelState:
    """Give a received parcel its slot, code and hold; or mark why it cannot have one."""
    with write_transaction(db):
        p = next(db.query("select * from parcels where id = ?", [parcel]))
        if p["household"] and (found := _resolve(db, p["household"])) != p["household"]:
            db.execute("update parcels set household = ? where id = ?", [found, parcel])
            p = {**p, "household": found}
        if not p["household"] or not _known_household(db, p["household"]):
            move(db, parcel, S.UNKNOWN_RECIPIENT, at, actor,
                 detail={"room": p["room"]}, waiting=None)
            return S.UNKNOWN_RECIPIENT
        return _slot(db, p, at, actor, S.HOLDING)


def _slot(db, p: dict, at: float, actor: str, to: ParcelState) -> ParcelState:
    cfg = settings.load(db)
    try:
        shelf, slot, tier = shelving.choose_slot(db, p["building"], bool(p["fresh"]),
                                                 bool(p["frozen"]))
    except shelving.ShelfFull as full:
        if p["waiting"] != str(full):
            db["parcels"].update(p["id"], {"waiting": str(full)})
            alert_log.add_alert(db, at, "hub", AlertKind.PARCEL_AREA_FULL, p["id"],
                                {"message": str(full)})
        return ParcelState(p["state"])
    zone = policy_versions.compound_zone(db)
    code = shelving.next_code(db, shelf.id, tier, at, zone, cfg.code_start)
    hold_until = p["hold_until"] if p["hold_until"] else \
        p["received_at"] + cfg.hold_s(bool(p["fresh"]), bool(p["frozen"]))
    move(db, p["id"], to, at, actor, detail={"slot": slot, "code": code},
         slot=slot, code=code, hold_until=hold_until, waiting=None)
    return to


def place_waiting(db: sqlite_utils.Database, at: float, limit: int = 500) -> int:
    """Parcels that found the area full, fresh and frozen first, then oldest first."""
    placed = 0
    # (an unknown recipient the office has named also waits here when the area was full)
    ids = [r["id"] for r in db.query(
        "select id from parcels where state in ('received', 'unknown_recipient') and "
        "household is not null and waiting is not null order by (fresh or frozen) desc, "
        "received_at limit ?", [limit])]
    for pid in ids:
        with write_transaction(db):  # the row read again inside: it may have moved on
            r = next(db.query("select * from parcels where id = ? and state in ('received', "
                              "'unknown_recipient') and waiting is not null", [pid]), None)
            if r is not None and _slot(db, r, at, "shelf-rule", S.HOLDING) is S.HOLDING:
                placed += 1
    return placed


def set_room(db: sqlite_utils.Database, parcel: str, room: str, at: float,
             actor: str) -> ParcelState:
    """The office found the recipient of an unknown-recipient parcel: slot it now."""
    hh = parse_room(room)
    if hh is None:
        raise ParcelError(f"房号“{room}”无法识别，请按 楼-单元-室 填写 (room as building-unit-room)")
    with write_transaction(db):
        if not _known_household(db, hh[0]):
            raise ParcelError(f"查无此户 {hh[0]} (no such household)")
        p = next(db.query("select state from parcels where id = ?", [parcel]), None)
        if p is None or p["state"] != S.UNKNOWN_RECIPIENT.value:
            raise ParcelError("只有收件人不明的快递可以改房号 (only an unknown-recipient parcel)")
        db["parcels"].update(parcel, {"room": room, "household": hh[0], "building": hh[1]})
        row = next(db.query("select * from parcels where id = ?", [parcel]))
        # Named, but with the area full it stays here with `waiting` set and is placed
        # with the other waiting parcels when a slot frees.
        return _slot(db, row, at, actor, S.HOLDING)


def reshelve(db: sqlite_utils.Database, parcel: str, at: float, actor: str) -> None:
    """A damaged parcel repaired, or a mis-shelved one found: back to a free slot."""
    with write_transaction(db):
        p = next(db.query("select * from parcels where id = ?", [parcel]), None)
        if p is None:
            raise ParcelError(f"没有这件快递 no parcel {parcel}")
        # Still standing its hold: back to holding (the timer releases it), else ready.
        to = S.HOLDING if (p["hold_until"] or 0) > at else S.SHELVED
        if p["state"] == S.MISSHELVED.value:
            move(db, parcel, to, at, actor, detail={"slot": p["slot"]})
        elif p["state"] != S.DAMAGED.value:
            raise ParcelError(f"{p['waybill']}: 只有破损或放错位置的快递可以重新上架 "
                              "(only a damaged or mis-shelved parcel is reshelved)")
        elif _slot(db, p, at, actor, to) is not to:
            raise ParcelError(f"没有空位 no free slot: {p['waiting'] or ''}")
        elif to is S.SHELVED:  # a new slot and code: the household hears the new code
            notices.pickup_ready(db, p["household"], p["building"], at)


def release_due(db: sqlite_utils.Database, now: float) -> int:
    """Holds that have ended: the parcel is on the shelf and may be handed out; each
    household hears once (a sealed building's parcels wait for a door run instead)."""
    released = 0
    while True:  # in short transactions: after a long outage the gates' ingest must not wait
        households: dict[str, str] = {}
        with write_transaction(db):  # read inside: a parcel marked damaged meanwhile stays so
            rows = list(db.query("select id, hold_until, household, building from parcels "
                                 "where state = 'holding' and hold_until <= ? order by "
                                 "hold_until limit ?", [now, RELEASE_CHUNK]))
            for r in rows:
                move(db, r["id"], S.SHELVED, r["hold_until"], "hold-timer")
                households[r["household"]] = r["building"]
            for household, building in households.items():
                notices.pickup_ready(db, household, building, now)
        released += len(rows)
        if len(rows) < RELEASE_CHUNK:
            return released


def flag_overdue(db: sqlite_utils.Database, now: float) -> int:
    """Parcels on the shelves past the overdue limit: flagged once, the household told."""
    limit = settings.load(db).overdue_days * 86400
    rows = list(db.query("select id, household, building from parcels where state = "
                         "'shelved' and overdue_at is null and received_at <= ?",
                         [now - limit]))
    with write_transaction(db):
        for r in rows:
            db["parcels"].update(r["id"], {"overdue_at": now})
            _event(db, r["id"], S.SHELVED.value, "overdue", now, "overdue-timer")
        for hh in {r["household"] for r in rows}:
            notices.overdue(db, hh, now)
    return len(rows)
