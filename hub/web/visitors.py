"""Visitors registered in advance: a time window and the host household."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gatehouse.privacy import mask_name, mask_phone
from hub.users import Perm
from hub.web import core

bp = Blueprint("visitors", __name__, url_prefix="/visitors")


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    rows = list(core.db().query("select * from visitors where until_at >= ? "
                                "order by from_at", [core.now() - 86400]))
    for r in rows:
        r["name"], r["phone"] = mask_name(r["name"]), mask_phone(r["phone"] or "")
    return render_template("visitors.html", rows=rows)


@bp.route("/", methods=["POST"])
@core.require(Perm.VISITORS)
def register():
    f = request.form
    name, host = f.get("name", "").strip(), f.get("host_household", "").strip()
    try:
        start, end = core.parse_local(f.get("from_at", "")), core.parse_local(f.get("until_at", ""))
    except ValueError:
        start = end = None
    problems = []
    if not name or len(name) > 40:
        problems.append("请填写访客姓名 name the visitor")
    if not host or not core.db()["residents"].count_where("household = ?", [host]):
        problems.append(f"没有这一户 no household {host!r} on file (e.g. 7-2-301)")
    if start is None or end is None or end <= start:
        problems.append("时间段不对 the time window is wrong")
    elif end - start > 7 * 86400:
        problems.append("最长7天 at most 7 days")
    if problems:
        for p in problems:
            flash(p, "error")
        return redirect(url_for("visitors.index"))
    doc = {"name": name, "phone": "".join(ch for ch in f.get("phone", "") if ch.isdigit()),
           "host_household": host, "building": host.split("-")[0], "from_at": int(start),
           "until_at": int(end), "purpose": f.get("purpose", "")[:200],
           "created_at": int(core.now()), "created_by": core.user(), "cancelled_at": None}
    vid = core.db()["visitors"].insert(doc).last_pk
    core.record("visitor.register", vid, None, {**doc, "name": mask_name(name),
                                                "phone": mask_phone(doc["phone"])})
    flash(f"已登记访客 Visitor registered: {mask_name(name)} → {host}", "ok")
    return redirect(url_for("visitors.index"))


@bp.route("/<int:vid>/cancel", methods=["POST"])
@core.require(Perm.VISITORS)
def cancel(vid: int):
    db = core.db()
    if not db["visitors"].count_where("id = ?", [vid]):
        abort(404)
    db["visitors"].update(vid, {"cancelled_at": int(core.now())})
    core.record("visitor.cancel", vid, {"cancelled": False}, {"cancelled": True})
    return redirect(url_for("visitors.index"))
