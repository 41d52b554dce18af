"""Buildings: status with one action and a confirmation; it reaches the gates at once."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gatehouse.policy.model import BuildingStatus
from hub.users import Perm
from hub.web import core

bp = Blueprint("buildings", __name__, url_prefix="/buildings")

STATUS_LABELS = {BuildingStatus.NORMAL: "正常 normal", BuildingStatus.PRECAUTION: "防范 precaution",
                 BuildingStatus.CONTROLLED: "管控 controlled", BuildingStatus.SEALED: "封控 sealed"}


def known_buildings(db) -> list[str]:
    names = {r["b"] for r in db.query(
        "select id as b from buildings union select building from residents "
        "union select building from issued_codes where building is not null")}
    return sorted((n for n in names if n), key=lambda n: (len(n), n))


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    db = core.db()
    statuses = {r["id"]: r for r in db["buildings"].rows}
    rows = [{"id": b, "status": BuildingStatus(statuses[b]["status"]) if b in statuses
             else BuildingStatus.NORMAL, "changed_at": statuses.get(b, {}).get("changed_at")}
            for b in known_buildings(db)]
    history = list(db.query("select * from building_events order by id desc limit 200"))
    return render_template("buildings.html", rows=rows, history=history,
                           labels=STATUS_LABELS, statuses=list(BuildingStatus))


@bp.route("/set", methods=["POST"])
@core.require(Perm.BUILDINGS)
def set_status():
    building = request.form.get("building", "").strip()
    try:
        status = BuildingStatus(request.form.get("status", ""))
    except ValueError:
        abort(400, "未知的状态 unknown status")
    if not building or len(building) > 12:
        abort(400, "楼号不对 bad building id")
    note = request.form.get("note", "").strip()[:300]
    if request.form.get("confirmed") != "yes":
        # Without the page's script the browser did not ask: ask here.
        return render_template("confirm_building.html", building=building, status=status,
                               label=STATUS_LABELS[status], note=note)
    c = core.compound()
    before = next(c.db.query("select status from buildings where id = ?", [building]), None)
    before = before["status"] if before else BuildingStatus.NORMAL.value
    changed = c.set_building(building, status, int(core.now()), core.user(), note)
    if changed:
        core.record("building.status", building, {"status": before},
                    {"status": status.value, "note": note})
        flash(f"{building}号楼已设为{STATUS_LABELS[status]}，已发送到各门岗 / "
              f"Building {building} is now {status.value}; sent to every gate", "ok")
    else:
        flash(f"{building}号楼已经是{STATUS_LABELS[status]} / unchanged", "ok")
    return redirect(url_for("buildings.index"))
