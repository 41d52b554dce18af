"""Shelves (add, reshape, remove) and the parcel settings: holds, overdue, run times."""
from __future__ import annotations

import re
from dataclasses import asdict

from flask import Blueprint, flash, redirect, render_template, request, url_for
from pydantic import ValidationError

from hub.parcels import settings, shelving
from hub.users import Perm
from hub.web import core

bp = Blueprint("setup", __name__, url_prefix="/setup")

FIELD_LABELS = {"hold_minutes": "静置时间（分钟）hold minutes",
                "fresh_hold_minutes": "生鲜静置时间（分钟）fresh hold minutes",
                "overdue_days": "超期天数 overdue after days",
                "run_times": "送货趟次时间 run times", "code_start": "取件码起始号 first code number"}
_LIST = re.compile(r"[\s,，、;；]+")


def _usage(db) -> dict[str, int]:
    used: dict[str, int] = {}
    for r in shelving.occupancy(db).values():
        if r["id"]:
            used[r["shelf"]] = used.get(r["shelf"], 0) + 1
    return used


def _page(status: int = 200, errors=(), shelf_form=None, settings_form=None):
    db = core.db()
    current = settings.load(db)
    edit = request.args.get("edit", "").upper()
    shelf_list = shelving.shelves(db)
    if shelf_form is None:
        existing = next((s for s in shelf_list if s.id == edit), None)
        shelf_form = ({**asdict(existing), "buildings": ", ".join(existing.buildings)}
                      if existing else {"id": "", "name": "", "tiers": 4, "slots": 10,
                                        "cold": False, "buildings": "", "sort": 0})
    if settings_form is None:
        settings_form = {**current.model_dump(), "run_times": ", ".join(current.run_times)}
    return render_template("parcels_setup.html", shelves=shelf_list, used=_usage(db),
                           errors=list(errors), shelf_form=shelf_form,
                           settings_form=settings_form, labels=FIELD_LABELS), status


@bp.route("")
@core.require(Perm.VIEW)
def index():
    return _page()


def _shelf_from(form) -> shelving.Shelf:
    """The form as a Shelf; ValueError (bilingual) for numbers that are not numbers."""
    try:
        tiers, slots = int(form.get("tiers", "")), int(form.get("slots", ""))
        sort = int(form.get("sort") or 0)
    except ValueError:
        raise ValueError("层数、每层格数和排序要填整数 (tiers, slots and order are whole "
                         "numbers)") from None
    buildings = tuple(b for b in _LIST.split(form.get("buildings", "").strip()) if b)
    if any(len(b) > 12 for b in buildings):
        raise ValueError("楼号最长12位 (a building id is at most 12 characters)")
    return shelving.Shelf(form.get("id", "").strip().upper(), form.get("name", "").strip()[:40],
                          tiers, slots, bool(form.get("cold")), buildings, sort)


@bp.route("/shelf", methods=["POST"])
@core.require(Perm.SHELVES)
def save_shelf():
    db = core.db()
    try:
        shelf = _shelf_from(request.form)
        before = next((s for s in shelving.shelves(db) if s.id == shelf.id), None)
        shelving.define_shelf(db, shelf)
    except ValueError as exc:
        return _page(422, [str(exc)], shelf_form=dict(request.form.items()))
    core.record("parcel.shelf", shelf.id, asdict(before) if before else None, asdict(shelf))
    flash(f"货架{shelf.id}已保存：{shelf.tiers}层×{shelf.slots}格 (shelf {shelf.id} saved: "
          f"{shelf.capacity} slots)", "ok")
    return redirect(url_for(".index"))


@bp.route("/shelf/<shelf_id>/remove", methods=["POST"])
@core.require(Perm.SHELVES)
def remove_shelf(shelf_id: str):
    db = core.db()
    before = next((s for s in shelving.shelves(db) if s.id == shelf_id), None)
    if before is None:
        flash(f"没有货架{shelf_id} (no shelf {shelf_id})", "error")
        return redirect(url_for(".index"))
    try:
        shelving.remove_shelf(db, shelf_id)
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    core.record("parcel.shelf.remove", shelf_id, asdict(before), None)
    flash(f"货架{shelf_id}已删除 (shelf {shelf_id} removed)", "ok")
    return redirect(url_for(".index"))


@bp.route("/settings", methods=["POST"])
@core.require(Perm.SHELVES)
def save_settings():
    db = core.db()
    form = {k: request.form.get(k, "").strip() for k in FIELD_LABELS}
    doc = {**form, "run_times": tuple(t for t in _LIST.split(form["run_times"]) if t)}
    try:
        new = settings.ParcelSettings.model_validate(doc)
    except ValidationError as exc:
        errors = [f"{FIELD_LABELS.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else ''}: "
                  f"{e['msg']}" for e in exc.errors()]
        return _page(422, errors, settings_form=form)
    before = settings.load(db)
    settings.save(db, new)
    core.record("parcel.settings", "parcels", before.model_dump(), new.model_dump())
    flash("快递设置已保存，新到的快递按新设置 (settings saved; they apply to parcels "
          "received from now on)", "ok")
    return redirect(url_for(".index"))
