"""The daily audit sheet: open it, walk the shelves slot by slot scanning what is there,
close it; parcels not found become mis-shelved. Printable for a walk with a pen."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gatehouse.privacy import mask_household
from hub.parcels import audit_sheet
from hub.users import Perm
from hub.web import core

bp = Blueprint("audit", __name__, url_prefix="/audit")

RESULT_LABELS = {"ok": "✓ 相符 ok", "missing": "空 missing", "other": "不符 another parcel",
                 "extra": "多出 extra", "unchecked": "未查 unchecked"}


def slot_order(slot: str) -> tuple:
    """A-2-05 before A-10-01: numbers as numbers."""
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"-", slot or ""))


def _sheet(db, sheet: int) -> dict:
    row = next(db.query("select * from audit_sheets where id = ?", [sheet]), None)
    if row is None:
        abort(404)
    return dict(row)


def sheet_lines(db, sheet: int) -> list[dict]:
    rows = [dict(r) for r in db.query(
        "select l.*, p.code, p.household, p.state from audit_lines l left join parcels p on "
        "p.id = l.parcel where l.sheet = ?", [sheet])]
    for r in rows:
        r["masked"] = mask_household(r["household"])
    return sorted(rows, key=lambda r: slot_order(r["slot"]))


def counts(lines: list[dict]) -> dict:
    out = dict.fromkeys(RESULT_LABELS, 0)
    for ln in lines:
        out[ln["result"] or "unchecked"] += 1
    return out


def misshelved_by(db, sheet: int) -> list[dict]:
    """The parcels this sheet's closing marked mis-shelved."""
    return [dict(r) for r in db.query(
        "select p.id, p.waybill, p.code, p.state, json_extract(e.detail, '$.slot') as slot "
        "from parcel_events e join parcels p on p.id = e.parcel where e.state_to = "
        "'misshelved' and json_extract(e.detail, '$.sheet') = ? order by e.id", [sheet])]


@bp.route("")
@core.require(Perm.VIEW)
def index():
    db = core.db()
    sheets = [dict(r) for r in db.query("select * from audit_sheets order by id desc limit 30")]
    for s in sheets:
        s["counts"] = counts(sheet_lines(db, s["id"]))
    return render_template("parcels_audit.html", sheets=sheets)


@bp.route("/open", methods=["POST"])
@core.require(Perm.PARCELS)
def open_():
    db, now = core.db(), core.now()
    same_day = next(db.query("select id from audit_sheets where closed_at is null and "
                             "created_at >= ? order by id desc limit 1",
                             [core.day_start(now)]), None)
    if same_day:
        flash(f"今天已有未结束的盘点单 #{same_day['id']} (today's sheet is still open)", "ok")
        return redirect(url_for(".sheet", sheet=same_day["id"]))
    sheet = audit_sheet.open_sheet(db, now, core.user())
    core.record("parcel.audit.open", sheet, None,
                {"slots": db["audit_lines"].count_where("sheet = ?", [sheet])})
    return redirect(url_for(".sheet", sheet=sheet))


@bp.route("/<int:sheet>")
@core.require(Perm.VIEW)
def sheet(sheet: int):
    db = core.db()
    row = _sheet(db, sheet)
    lines = sheet_lines(db, sheet)
    focus = next((ln["slot"] for ln in lines if not ln["result"]), None)
    return render_template("parcels_audit_sheet.html", s=row, lines=lines,
                           counts=counts(lines), labels=RESULT_LABELS, focus=focus,
                           misshelved=misshelved_by(db, sheet) if row["closed_at"] else [])


@bp.route("/<int:sheet>/record", methods=["POST"])
@core.require(Perm.PARCELS)
def record(sheet: int):
    db = core.db()
    row = _sheet(db, sheet)
    slot = request.form.get("slot", "").strip().upper()
    found = "" if request.form.get("empty") else request.form.get("found", "").strip()[:40]
    if row["closed_at"]:
        flash("盘点单已结束 (this sheet is closed)", "error")
    elif not db["slots"].count_where("id = ?", [slot]):
        flash(f"没有这个格位 {slot} (no such slot)", "error")
    elif not found and not request.form.get("empty"):
        flash(f"{slot}: 请扫描找到的快递，或点“空” (scan what is there, or press empty)", "error")
    else:
        result = audit_sheet.record(db, sheet, slot, found, core.now(), core.user())
        core.record("parcel.audit.record", sheet, None,
                    {"slot": slot, "found": found.upper(), "result": result})
        flash(f"{slot}: {RESULT_LABELS[result]}", "ok" if result == "ok" else "error")
    return redirect(url_for(".sheet", sheet=sheet))


@bp.route("/<int:sheet>/close", methods=["POST"])
@core.require(Perm.PARCELS)
def close(sheet: int):
    db = core.db()
    if _sheet(db, sheet)["closed_at"]:
        flash("盘点单已结束 (this sheet is already closed)", "error")
        return redirect(url_for(".sheet", sheet=sheet))
    result = audit_sheet.close_sheet(db, sheet, core.now(), core.user())
    moved = misshelved_by(db, sheet)
    core.record("parcel.audit.close", sheet, None,
                {"counts": result, "misshelved": [m["waybill"] for m in moved]})
    flash("盘点结束 audit closed: " + " · ".join(f"{RESULT_LABELS[k]} {v}"
                                                 for k, v in sorted(result.items()))
          + f" — {len(moved)}件标为放错 marked mis-shelved", "ok")
    return redirect(url_for(".sheet", sheet=sheet))
