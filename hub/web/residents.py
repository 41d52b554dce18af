"""Residents: search, CSV or .xlsx import with a preview (all or nothing), CSV and .xlsx
export (masked alike), unmasking."""
from __future__ import annotations

import csv
import io

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from hub import residents as people
from hub import xlsx
from hub.audit import to_csv
from hub.compound import HubError
from hub.users import Perm
from hub.web import core, downloads

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
    c = core.compound()
    sheet_errors: list[people.RowError] = []
    if upload is not None and upload.filename:
        raw = upload.read()
        if xlsx.is_xlsx(raw) or xlsx.is_old_xls(raw):
            text, sheet_errors = _xlsx_as_csv(raw)
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                try:
                    text = raw.decode("gb18030")   # what Excel on a Chinese Windows saves
                except UnicodeDecodeError:
                    abort(400, "文件编码无法识别，请存为UTF-8 CSV或.xlsx / save the file as "
                               "UTF-8 CSV or .xlsx")
    else:
        text = request.form.get("csv_text", "")
    if text is None:     # a workbook that cannot be read at all: only that is said
        parsed = people.Parsed(errors=sheet_errors)
    else:
        parsed = people.parse_csv(text, c.binding_key)
        parsed.errors = sorted(parsed.errors + sheet_errors, key=lambda e: e.line)
    issue_passes = request.form.get("issue_passes") == "on"
    if request.form.get("confirmed") != "yes" or not parsed.ok:
        return render_template("import.html", parsed=parsed, csv_text=text or "",
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
    return downloads.csv_file(to_csv(_export_rows(), people.EXPORT_FIELDS), "residents.csv")


@bp.route("/export.xlsx")
@core.require(Perm.RESIDENTS)
def export_xlsx():
    """The same list for Excel: rooms, phones and IDs as text cells (leading zeros kept)."""
    sheet = downloads.table("居民 residents", _export_rows(), people.EXPORT_FIELDS)
    return downloads.xlsx_file([sheet], "residents.xlsx")


def _export_rows() -> list[dict]:
    full = request.args.get("full") == "1"
    if full and not core.allowed(Perm.UNMASK):
        abort(403)
    rows = people.search(core.db(), limit=1_000_000, at=int(core.now()))
    if full:
        core.record("residents.export_full", f"{len(rows)} rows")
        return rows
    return [people.masked(r) for r in rows]


def _xlsx_as_csv(raw: bytes) -> tuple[str | None, list[people.RowError]]:
    """A workbook's first sheet as the CSV text the import reads (row n is line n, so
    errors name the spreadsheet's row), and its cells that cannot be trusted."""
    try:
        sheet = xlsx.read_rows(raw, people.MAX_ROWS)
    except xlsx.XlsxError as exc:
        return None, [people.RowError(1, "file", str(exc))]
    header = sheet.rows[0][1] if sheet.rows else []
    out, line = io.StringIO(), 1
    w = csv.writer(out, lineterminator="\n")
    for n, cells in sheet.rows:
        out.write("\n" * (n - line))     # empty rows keep their numbers
        w.writerow(cells)
        line = n + 1
    errors = [people.RowError(n, _field_of(header, col), why) for n, col, why in sheet.errors]
    return out.getvalue(), errors


def _field_of(header: list[str], col: int) -> str:
    name = header[col - 1] if col - 1 < len(header) else ""
    key = people.HEADERS.get(name.strip().lower(), people.HEADERS.get(name.strip()))
    return key or f"{xlsx.column_name(col)}"


@bp.errorhandler(413)
def too_large(_exc):
    mib = (current_app.config["MAX_CONTENT_LENGTH"] or 0) // 2**20
    return render_template("import.html", parsed=people.Parsed(errors=[people.RowError(
        1, "file", f"文件超过{mib} MiB，请分成几个文件导入 the file is over {mib} MiB: split it "
                   "and import the parts")]), csv_text="", preview=[]), 413


@bp.route("/<int:rid>/unmask", methods=["POST"])
@core.require(Perm.UNMASK)
def unmask(rid: int):
    r = people.get(core.db(), rid)
    if r is None:
        abort(404)
    core.record("resident.unmask", rid, None, {"fields": ["name", "phone"],
                                                "reason": request.form.get("reason", "")[:200]})
    return render_template("unmasked.html", r=r)


