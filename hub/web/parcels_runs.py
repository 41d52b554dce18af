"""Door runs to sealed buildings: which buildings wait, run sheets (printable), and the
delivery mode a USB scanner gun types into (venue code first, then each parcel)."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from gatehouse.parcels import valid_waybill
from gatehouse.privacy import mask_household
from hub.parcels import runs
from hub.parcels.notices import door_run
from gatehouse.days import local_day
from hub.parcels.states import ParcelError
from hub.users import Perm
from hub.web import core

bp = Blueprint("runs", __name__, url_prefix="/runs")


def _count(db, state: str, run_id: str) -> int:
    return db.execute("select count(*) from parcel_events where state_to = ? and "
                      "json_extract(detail, '$.run') = ?", [state, run_id]).fetchone()[0]


def run_counts(db, run_id: str) -> dict:
    """Put on the sheet, delivered, back on the shelf: from the history, so a parcel that
    later goes on another run still counts here."""
    return {"total": _count(db, "out_for_delivery", run_id),
            "delivered": _count(db, "delivered", run_id),
            "back": _count(db, "shelved", run_id)}


def _run(db, run_id: str) -> dict:
    run = next(db.query("select * from run_sheets where id = ?", [run_id]), None)
    if run is None:
        abort(404)
    return dict(run)


@bp.route("")
@core.require(Perm.VIEW)
def index():
    db, now = core.db(), core.now()
    day = local_day(now, core.zone())
    sheets = [dict(r) for r in db.query(
        "select * from run_sheets where day = ? or closed_at is null order by created_at desc",
        [day])]
    for s in sheets:
        s.update(run_counts(db, s["id"]))
    return render_template("parcels_runs.html", due=runs.buildings_due(db, now),
                           sheets=sheets, run_no=runs.run_number(db, now), day=day)


@bp.route("/make", methods=["POST"])
@core.require(Perm.PARCELS)
def make():
    db, now = core.db(), core.now()
    building = request.form.get("building", "").strip()[:12]
    if not door_run(db, building, now):
        flash(f"{building}栋不是封控或管控楼，住户自取 (building {building} is not sealed "
              f"or controlled: residents pick up)", "error")
        return redirect(url_for(".index"))
    try:
        run_id = runs.make_sheet(db, building, now, core.user())
    except ParcelError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    core.record("parcel.run.make", run_id, None,
                {"building": building, "parcels": run_counts(db, run_id)["total"]})
    return redirect(url_for(".sheet", run_id=run_id))


@bp.route("/<run_id>")
@core.require(Perm.VIEW)
def sheet(run_id: str):
    db = core.db()
    run = _run(db, run_id)
    lines = runs.sheet(db, run_id)
    # The volunteer carrying the run needs the door: the full room for those who do
    # parcel work (the printout goes with them), masked for everyone else.
    full = core.allowed(Perm.PARCELS)
    for ln in lines:
        ln["masked"] = (ln["household"] if full else mask_household(ln["household"])) or "—"
    return render_template("parcels_run_sheet.html", run=run, lines=lines,
                           counts=run_counts(db, run_id))


def _reply(ok: bool, message: str, status: int = 200, **extra):
    """JSON for the page's script; a flash and the sheet again for a browser without it."""
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ok=ok, message=message, **extra), status
    flash(message, "ok" if ok else "error")
    return redirect(url_for(".sheet", run_id=request.view_args["run_id"]))


@bp.route("/<run_id>/scan", methods=["POST"])
@core.require(Perm.PARCELS)
def scan(run_id: str):
    """One scan from the gun: the building's venue code, or a parcel's waybill or code."""
    db, now = core.db(), core.now()
    run = _run(db, run_id)
    text = request.form.get("scan", "").strip("\r\n\t")
    if not text.strip():
        return _reply(False, "没有扫到内容 (nothing scanned)", 422)
    if run["closed_at"]:
        return _reply(False, "本趟已结束 (this run is closed)", 409)
    try:
        if not run["venue_ok_at"] or not valid_waybill(text):
            runs.start_delivery(db, run_id, text, core.compound().bundle_trust(), now,
                                core.user())
            core.record("parcel.run.venue", run_id, None, {"building": run["building"]})
            return _reply(True, f"✓ 已到{run['building']}栋，开始送件 (at building "
                                f"{run['building']}: scan each parcel)", kind="venue")
        p = runs.deliver(db, run_id, text, now, core.user())
    except ParcelError as exc:
        return _reply(False, str(exc), 422)
    counts = run_counts(db, run_id)
    core.record("parcel.run.deliver", run_id, {"state": p["state"]},
                {"parcel": p["id"], "state": "delivered"})
    return _reply(True, f"✓ {text.strip().upper()} 已送达 delivered "
                        f"({counts['delivered']}/{counts['total']})", kind="parcel",
                  parcel=p["id"], **counts)


@bp.route("/<run_id>/close", methods=["POST"])
@core.require(Perm.PARCELS)
def close(run_id: str):
    db = core.db()
    run = _run(db, run_id)
    if run["closed_at"]:
        flash("本趟已结束 (this run is already closed)", "error")
        return redirect(url_for(".sheet", run_id=run_id))
    back = runs.close_run(db, run_id, core.now(), core.user())
    counts = run_counts(db, run_id)
    core.record("parcel.run.close", run_id, None, counts)
    flash(f"本趟结束：送达{counts['delivered']}件，{back}件放回货架 "
          f"(run closed: {counts['delivered']} delivered, {back} back on the shelf)", "ok")
    return redirect(url_for(".sheet", run_id=run_id))
