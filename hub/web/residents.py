"""Residents: search, CSV import with a preview (all or nothing), CSV export, unmasking."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from hub import residents as people
from hub.audit import to_csv
from hub.compound import HubError
from hub.users import Perm
from hub.web import core

bp = Blueprint("residents", __name__, url_prefix="/residents")


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    db = core.db()
    q, building = request.args.get("q", ""), request.args.get("building", "")
    rows = [people.masked(r) for r in people.search(db, q, building, at=int(core.now()))]
    households = len({r["household"] for r in rows})
    return render_template("residents.html", rows=rows, q=q, building=building,
                           buildings=people.buildings(db), households=households)


@bp.route("/import", methods=["GET", "POST"])
@core.require(Perm.RESIDENTS)
def import_csv():
    if request.method == "GET":
        return render_template("import.html", parsed=None)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = raw.decode("gb18030")   # what Excel on a Chinese Windows saves
            except UnicodeDecodeError:
                abort(400, "文件编码无法识别，请存为UTF-8 CSV / save the file as UTF-8 CSV")
    else:
        text = request.form.get("csv_text", "")
    c = core.compound()
    parsed = people.parse_csv(text, c.binding_key)
    issue_passes = request.form.get("issue_passes") == "on"
    if request.form.get("confirmed") != "yes" or not parsed.ok:
        return render_template("import.html", parsed=parsed, csv_text=text,
                               preview=people.preview(c.db, parsed),
                               issue_passes=issue_passes), (200 if parsed.ok else 422)
    try:
        counts = people.import_rows(c, parsed, int(core.now()), issue_passes)
    except HubError as exc:
        flash(f"没有导入任何数据 Nothing imported: {exc}", "error")
        return redirect(url_for("residents.import_csv"))
    core.record("residents.import", f"{len(parsed.rows)} rows", None, counts)
    flash(f"已导入：新增{counts['new']}人，更新{counts['update']}人，签发出入证{counts['passes']}张 / "
          f"Imported: {counts['new']} new, {counts['update']} updated, "
          f"{counts['passes']} passes issued", "ok")
    return redirect(url_for("residents.index"))


@bp.route("/export.csv")
@core.require(Perm.RESIDENTS)
def export():
    """The office's list, masked unless an admin asks for full data (logged)."""
    full = request.args.get("full") == "1"
    if full and not core.allowed(Perm.UNMASK):
        abort(403)
    rows = people.search(core.db(), limit=1_000_000, at=int(core.now()))
    if full:
        core.record("residents.export_full", f"{len(rows)} rows")
    else:
        rows = [people.masked(r) for r in rows]
    return _csv(to_csv(rows, people.EXPORT_FIELDS), "residents.csv")


@bp.route("/<int:rid>/unmask", methods=["POST"])
@core.require(Perm.UNMASK)
def unmask(rid: int):
    r = people.get(core.db(), rid)
    if r is None:
        abort(404)
    core.record("resident.unmask", rid, None, {"fields": ["name", "phone"],
                                                "reason": request.form.get("reason", "")[:200]})
    return render_template("unmasked.html", r=r)


def _csv(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
