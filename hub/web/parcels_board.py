"""The shelf board: every slot coloured by its parcel's state, the day's counts, search,
a parcel's page with its history and the exceptions its state allows."""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gatehouse.parcels import normalize_pickup_code
from gatehouse.households import parse_room
from gatehouse.privacy import mask_household
from hub.parcels import handout, intake, shelving
from hub.parcels.states import ALLOWED, ZH, ParcelError, ParcelState
from hub.users import Perm
from hub.web import core

bp = Blueprint("board", __name__)
S = ParcelState

# What a cell of the board shows: a slot's parcel seen from the shelf.
CELL_LABELS = {"free": "空 free", "holding": "静置中 holding", "ready": "可取 ready",
               "overdue": "超期 overdue", "misshelved": "放错 mis-shelved",
               "out_for_delivery": "配送中 out for delivery"}
STATE_LABELS = {s: f"{ZH[s]} {s.value.replace('_', ' ')}" for s in ParcelState}
ACTION_LABELS = {"room": "补填房号 Set room", "damaged": "标记破损 Mark damaged",
                 "misshelved": "标记放错 Mark mis-shelved", "reshelve": "重新上架 Reshelve",
                 "return": "退回快递员 Return to courier"}
RESHELVABLE = (S.DAMAGED, S.MISSHELVED)


def household(h: str | None) -> str:
    return mask_household(h) or "—"


def state_label(value: str) -> str:
    try:
        return STATE_LABELS[ParcelState(value)]
    except ValueError:          # an event that is not a state: duplicate_scan, overdue …
        return value


def cell_state(p: dict) -> str:
    if not p["id"]:
        return "free"
    if p["state"] == S.SHELVED.value:
        return "overdue" if p["overdue_at"] else "ready"
    return p["state"]


def _one(db, sql: str, args=()) -> int:
    return db.execute(sql, list(args)).fetchone()[0]


def summary(db, now: float) -> dict:
    """The counts at the top of the board; `waiting` carries the area-full messages."""
    start = core.day_start(now)
    done_today = ("select count(distinct parcel) from parcel_events where state_to = ? "
                  "and at >= ?")
    return {
        "received": _one(db, "select count(*) from parcels where received_at >= ? and "
                             "state != 'voided'", [start]),
        "holding": _one(db, "select count(*) from parcels where state = 'holding'"),
        "ready": _one(db, "select count(*) from parcels where state = 'shelved' and "
                          "overdue_at is null"),
        "out_for_delivery": _one(db, "select count(*) from parcels where state = "
                                     "'out_for_delivery'"),
        "picked_up": _one(db, done_today, ["picked_up", start]),
        "delivered": _one(db, done_today, ["delivered", start]),
        "waiting": _one(db, "select count(*) from parcels where state = 'received' and "
                            "waiting is not null"),
        "unknown": _one(db, "select count(*) from parcels where state = 'unknown_recipient'"),
        "overdue": _one(db, "select count(*) from parcels where state = 'shelved' and "
                            "overdue_at is not null"),
        "misshelved": _one(db, "select count(*) from parcels where state = 'misshelved'"),
        "damaged": _one(db, "select count(*) from parcels where state = 'damaged'"),
        "full": [r["waiting"] for r in db.query(
            "select distinct waiting from parcels where state = 'received' and waiting is "
            "not null order by waiting")],
    }


def _matches(p: dict, state: str, building: str, carrier: str) -> bool:
    if state and cell_state(p) != state:
        return False
    if building and p["building"] != building:
        return False
    return not carrier or p["carrier"] == carrier


def board(db, state: str, building: str, carrier: str) -> list[dict]:
    """Shelves with their tiers of cells, in slot order, each cell marked for the filters."""
    slots = shelving.occupancy(db)
    out = []
    for shelf in shelving.shelves(db):
        tiers: dict[int, list] = {}
        for p in (r for r in slots.values() if r["shelf"] == shelf.id):
            cell = {**p, "cell": cell_state(p), "masked": household(p["household"]),
                    "match": _matches(p, state, building, carrier)}
            tiers.setdefault(p["tier"], []).append(cell)
        cells = [c for t in tiers.values() for c in t]
        out.append({"shelf": shelf, "tiers": sorted(tiers.items()),
                    "used": sum(1 for c in cells if c["id"]),
                    "matching": sum(1 for c in cells if c["match"] and c["id"])})
    return out


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(db, q: str, limit: int = 100) -> list[dict]:
    """Parcels in any state by waybill (or part of it), pickup code, room or household."""
    q = q.strip()
    if not q:
        return []
    up = q.upper()
    hh = parse_room(q)
    rows = db.query(
        "select * from parcels where waybill like ? escape '\\' or code = ? or household = ? "
        "or household like ? escape '\\' or upper(room) like ? escape '\\' "
        "order by received_at desc limit ?",
        [_like(up), normalize_pickup_code(q), hh[0] if hh else up, _like(up), _like(up),
         limit])
    return [_decorate(dict(r)) for r in rows]


def _decorate(p: dict) -> dict:
    p["masked"] = household(p["household"])
    p["label"] = state_label(p["state"])
    return p


def allowed_actions(state: ParcelState) -> list[str]:
    """The exceptions the page offers for a parcel in `state` (the table decides)."""
    acts = []
    if state is S.UNKNOWN_RECIPIENT:
        acts.append("room")
    if S.DAMAGED in ALLOWED[state]:
        acts.append("damaged")
    if S.MISSHELVED in ALLOWED[state]:
        acts.append("misshelved")
    if state in RESHELVABLE:
        acts.append("reshelve")
    if S.RETURNED in ALLOWED[state]:
        acts.append("return")
    return acts


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    db = core.db()
    f = {k: request.args.get(k, "").strip() for k in ("state", "building", "carrier", "q")}
    if f["state"] not in CELL_LABELS:
        f["state"] = ""
    slots = shelving.occupancy(db).values()
    buildings = sorted({r["building"] for r in slots if r["building"]} |
                       {b for s in shelving.shelves(db) for b in s.buildings},
                       key=lambda b: (len(b), b))
    carriers = sorted({(r["carrier"], r["carrier_name"] or r["carrier"]) for r in slots
                       if r["carrier"]})
    loose = [_decorate(dict(r)) for r in db.query(
        "select * from parcels where state in ('received', 'unknown_recipient', 'damaged') "
        "order by received_at")
        if not f["building"] or r["building"] == f["building"]]
    return render_template(
        "parcels.html", shelves=board(db, f["state"], f["building"], f["carrier"]),
        counts=summary(db, core.now()), f=f, labels=CELL_LABELS, buildings=buildings,
        carriers=carriers, results=search(db, f["q"]) if f["q"] else None, loose=loose,
        now=core.now())


@bp.route("/<pid>")
@core.require(Perm.VIEW)
def detail(pid: str):
    db = core.db()
    p = next(db.query("select * from parcels where id = ?", [pid]), None)
    if p is None:
        abort(404)
    p = _decorate(dict(p))
    history = []
    for e in db.query("select * from parcel_events where parcel = ? order by id", [pid]):
        e = dict(e)
        e["label_to"] = state_label(e["state_to"])
        e["label_from"] = state_label(e["state_from"]) if e["state_from"] else ""
        e["detail"] = json.loads(e["detail"] or "{}")
        history.append(e)
    state = ParcelState(p["state"])
    return render_template("parcels_detail.html", p=p, history=history,
                           actions=allowed_actions(state), action_labels=ACTION_LABELS,
                           unknown=state is S.UNKNOWN_RECIPIENT, now=core.now())


def _act(db, p: dict, action: str, form) -> dict:
    """Do one exception; ParcelError (bilingual) when the state or input does not allow it."""
    note = form.get("note", "").strip()[:300]
    at, actor = core.now(), core.user()
    if action == "room":
        room = form.get("room", "").strip()[:40]
        intake.set_room(db, p["id"], room, at, actor)
        return {"household": mask_household(parse_room(room)[0])}
    if action in ("damaged", "misshelved"):
        handout.mark(db, p["id"], ParcelState(action), at, actor, note)
    elif action == "reshelve":
        # intake.reshelve would also move a parcel standing its hold: only exceptions here.
        if ParcelState(p["state"]) not in RESHELVABLE:
            raise ParcelError(f"{p['waybill']}: 只有破损或放错位置的快递可以重新上架 "
                              f"(only a damaged or mis-shelved parcel can be reshelved)")
        intake.reshelve(db, p["id"], at, actor)
    elif action == "return":
        if not note:
            raise ParcelError("请填写退回原因 (give the reason for the return)")
        handout.return_to_courier(db, p["id"], at, actor, note)
    return {"note": note} if note else {}


@bp.route("/<pid>/<action>", methods=["POST"])
@core.require(Perm.PARCELS)
def act(pid: str, action: str):
    db = core.db()
    p = next(db.query("select * from parcels where id = ?", [pid]), None)
    if p is None or action not in ACTION_LABELS:
        abort(404)
    try:
        extra = _act(db, dict(p), action, request.form)
    except ParcelError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".detail", pid=pid))
    after = next(db.query("select state, slot, code, waiting from parcels where id = ?", [pid]))
    core.record(f"parcel.{action}", p["waybill"], {"state": p["state"], "slot": p["slot"]},
                {"state": after["state"], "slot": after["slot"], **extra})
    if action == "room" and after["state"] == S.UNKNOWN_RECIPIENT.value and after["waiting"]:
        flash(f"房号已记录，但没有空位 room recorded, no free slot: {after['waiting']}", "error")
    else:
        flash(f"{p['waybill']}: {ACTION_LABELS[action]} → {state_label(after['state'])}"
              + (f" · {after['slot']} · {after['code']}" if after["slot"] else ""), "ok")
    return redirect(url_for(".detail", pid=pid))
