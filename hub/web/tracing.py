"""Presence (who is in or out) and tracing (流调) with CSV for the health authority."""
from __future__ import annotations

import json
import re

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from gatehouse.identity import person_ref
from gatehouse.privacy import mask_name
from hub import presence
from hub import residents as people
from hub.audit import to_csv
from hub.retention import next_run
from hub.users import Perm
from hub.web import core, downloads

bp = Blueprint("tracing", __name__)
_REF = re.compile(r"^[0-9a-f]{24}$")
QUERIES = {"timeline": ("个人轨迹 Timeline", presence.TIMELINE_FIELDS),
           "contacts": ("同门同时段人员 Same gate ±N min", presence.CONTACT_FIELDS),
           "visitors": ("访客 Visitors", presence.VISITOR_FIELDS)}


@bp.route("/presence", endpoint="presence")
@core.require(Perm.VIEW)
def presence_page():
    db, now, cfg = core.db(), core.now(), core.config()
    inside, out = presence.inside_now(db, now), presence.out_now(db, now)
    late = presence.out_past(db, now, request.args.get("after", cfg.curfew), core.zone())
    return render_template("presence.html", inside=inside, out=out, late=late,
                           after=request.args.get("after", cfg.curfew),
                           next_reset=next_run(now, cfg.reset_at, core.zone()),
                           last_reset=presence.last_reset(db), cfg=cfg)


@bp.route("/presence/reset", methods=["POST"])
@core.require(Perm.PRESENCE)
def reset():
    done = presence.reset(core.db(), core.now(), core.config().reset_after_hours, core.user(),
                          "manual reset")
    core.record("presence.reset", f"{len(done)} people", None,
                {"people": [d["person_ref"] for d in done]})
    flash(f"已重置{len(done)}人的在场状态 / Presence reset for {len(done)}", "ok")
    return redirect(url_for("tracing.presence"))


def _resolve() -> tuple[str | None, list[dict]]:
    """The person asked about: a ref, an ID number, or a search giving candidates."""
    ref = request.args.get("ref", "").strip().lower()
    if _REF.match(ref):
        return ref, []
    id_number = request.args.get("id_number", "").strip()
    if id_number:
        try:
            return person_ref(core.compound().binding_key, id_number).hex(), []
        except ValueError as exc:
            abort(400, f"身份证号无效 invalid ID number: {exc}")
    q = request.args.get("q", "").strip()
    if q:
        found = [people.masked(r) for r in people.search(core.db(), q, limit=50)]
        if len(found) == 1:
            return found[0]["person_ref"], []
        return None, found
    return None, []


def _run(kind: str, ref: str | None) -> list[dict]:
    now = core.now()
    days = min(max(int(request.args.get("days", presence.TRACE_DAYS)), 1), 28)
    start, end = now - days * 86400, now
    db = core.db()
    if kind == "visitors":
        rows = presence.visitors_seen(db, start, end)
    elif ref is None:
        return []
    elif kind == "timeline":
        rows = presence.timeline(db, ref, start, end)
    else:
        minutes = min(max(int(request.args.get("minutes", 15)), 1), 240)
        rows = presence.contacts(db, ref, start, end, minutes)
    for r in rows:
        r["name"] = mask_name(r.get("name"))
        if isinstance(r.get("reasons"), str):
            r["reasons"] = " ".join(json.loads(r["reasons"]))
    return rows


@bp.route("/tracing")
@core.require(Perm.TRACE)
def index():
    kind = request.args.get("kind", "timeline")
    if kind not in QUERIES:
        abort(400)
    ref, candidates = _resolve()
    rows = _run(kind, ref) if (ref or kind == "visitors") else []
    asked = bool(ref or kind == "visitors")
    if asked:  # looking at a person's movements is itself a recorded action (流调)
        core.record("trace.view", f"{kind} {ref or ''}".strip(), None, {"rows": len(rows)})
    resident = next(core.db().query("select * from residents where person_ref = ?", [ref]),
                    None) if ref else None
    return render_template("tracing.html", kind=kind, queries=QUERIES, rows=rows, ref=ref,
                           candidates=candidates, asked=asked,
                           resident=people.masked(resident) if resident else None,
                           fields=QUERIES[kind][1], args=request.args)


@bp.route("/tracing/export.csv")
@core.require(Perm.TRACE)
def export():
    kind, ref, rows = _export_rows()
    return downloads.csv_file(to_csv(rows, QUERIES[kind][1], iso=core.iso),
                              f"trace-{kind}-{(ref or 'all')[:8]}.csv")


@bp.route("/tracing/export.xlsx")
@core.require(Perm.TRACE)
def export_xlsx():
    kind, ref, rows = _export_rows()
    sheet = downloads.table(f"流调 {kind}", rows, QUERIES[kind][1],
                            numbers=frozenset({"policy_version", "minutes_apart"}))
    return downloads.xlsx_file([sheet], f"trace-{kind}-{(ref or 'all')[:8]}.xlsx")


def _export_rows() -> tuple[str, str | None, list[dict]]:
    """The query asked for, its rows, and the download written to the audit log."""
    kind = request.args.get("kind", "timeline")
    if kind not in QUERIES:
        abort(400)
    ref, _ = _resolve()
    if ref is None and kind != "visitors":
        abort(400, "请先指定人员 / say who first")
    rows = _run(kind, ref)
    core.record("trace.export", f"{kind} {ref or ''}".strip(), None, {"rows": len(rows)})
    return kind, ref, rows
