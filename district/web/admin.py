"""Users (the street office adds and disables them) and the audit log (every tracing
look-up, export, unmask, order and sign-in; newest first, filterable, exportable)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from district import tracing
from district.web import accounts, core, downloads
from district.web.accounts import Perm, Role

bp = Blueprint("admin", __name__)
AUDIT_FIELDS = ["id", "at", "actor", "role", "action", "target", "detail", "ip"]


@bp.route("/users")
@core.require(Perm.USERS)
def users():
    return render_template("users.html", users=accounts.list_users(core.db()), roles=list(Role))


@bp.route("/users/add", methods=["POST"])
@core.require(Perm.USERS)
def add_user():
    name = request.form.get("username", "").strip()
    try:
        accounts.add_user(core.db(), name, request.form.get("password", ""),
                          request.form.get("role", ""), core.now())
    except accounts.UserError as exc:
        flash(str(exc), "error")
    else:
        core.record("user.add", name, {"role": request.form.get("role", "")})
        flash(f"已添加 {name} / added", "ok")
    return redirect(url_for("admin.users"))


@bp.route("/users/<name>/disable", methods=["POST"])
@core.require(Perm.USERS)
def disable_user(name: str):
    try:
        accounts.disable_user(core.db(), name, core.now())
    except accounts.UserError as exc:
        flash(str(exc), "error")
    else:
        core.record("user.disable", name)
        flash(f"已停用 {name} / disabled", "ok")
    return redirect(url_for("admin.users"))


def _entries(limit: int) -> list[dict]:
    action, actor = request.args.get("action", "").strip(), request.args.get("actor", "").strip()
    rows = core.db().execute(
        "select id, extract(epoch from at)::float8 as at, actor, role, action, target, "
        "detail::text as detail, ip from audit "
        "where (%(action)s = '' or action like %(action)s || '%%') "
        "and (%(actor)s = '' or actor = %(actor)s) order by id desc limit %(limit)s",
        {"action": action, "actor": actor, "limit": limit}).fetchall()
    if not core.allowed(Perm.UNMASK):
        # An observer reads who traced whom, not the whole references (the tracing's).
        for r in rows:
            if tracing.REF.match(r["target"] or ""):
                r["target"] = tracing.short_ref(r["target"])
    return rows


@bp.route("/audit")
@core.require(Perm.AUDIT)
def audit():
    return render_template("audit.html", entries=_entries(500), fields=AUDIT_FIELDS,
                           args=request.args)


@bp.route("/audit.csv")
@core.require(Perm.AUDIT)
def audit_csv():
    rows = _entries(100_000)
    core.record("audit.export", "", {"rows": len(rows)})
    return downloads.csv_file(rows, AUDIT_FIELDS, "district-audit.csv")
