"""The audit log (view, CSV), users, and the retention purge."""
from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from hub import audit, retention, users
from hub.users import ROLE_LABELS, Perm, Role
from hub.web import core, downloads

bp = Blueprint("admin", __name__)


@bp.route("/audit")
@core.require(Perm.AUDIT)
def audit_log():
    cfg, now = core.config(), core.now()
    rows = audit.entries(core.db(), 500, request.args.get("action") or None,
                         request.args.get("actor") or None)
    return render_template("audit.html", rows=rows, args=request.args,
                           next_purge=retention.next_run(now, cfg.purge_at, core.zone()),
                           retention_days=cfg.retention_days)


@bp.route("/audit.csv")
@core.require(Perm.AUDIT)
def audit_csv():
    return downloads.csv_file(audit.to_csv(_audit_rows(), audit.CSV_FIELDS, iso=core.iso),
                              "audit.csv")


@bp.route("/audit.xlsx")
@core.require(Perm.AUDIT)
def audit_xlsx():
    sheet = downloads.table("审计日志 audit", _audit_rows(), audit.CSV_FIELDS,
                            numbers=frozenset({"id"}))
    return downloads.xlsx_file([sheet], "audit.xlsx")


def _audit_rows() -> list[dict]:
    return audit.entries(core.db(), 1_000_000, request.args.get("action") or None,
                         request.args.get("actor") or None)


@bp.route("/users", endpoint="users", methods=["GET", "POST"])
@core.require(Perm.USERS)
def users_page():
    db = core.db()
    if request.method == "POST":
        name, role = request.form.get("username", "").strip(), request.form.get("role", "")
        try:
            users.add_user(db, name, request.form.get("password", ""), role, int(core.now()))
        except users.UserError as exc:
            flash(str(exc), "error")
        else:
            core.record("user.add", name, None, {"role": role})
            flash(f"已添加用户 User added: {name}", "ok")
        return redirect(url_for("admin.users"))
    return render_template("users.html", rows=users.list_users(db), roles=list(Role),
                           labels=ROLE_LABELS)


@bp.route("/users/<name>/disable", methods=["POST"])
@core.require(Perm.USERS)
def disable(name: str):
    if name == core.user():
        flash("不能停用自己 You cannot disable yourself", "error")
        return redirect(url_for("admin.users"))
    try:
        users.disable_user(core.db(), name, int(core.now()))
    except users.UserError as exc:
        flash(str(exc), "error")
    else:
        core.record("user.disable", name, {"disabled": False}, {"disabled": True})
    return redirect(url_for("admin.users"))


@bp.route("/retention/purge", methods=["POST"])
@core.require(Perm.USERS)
def purge():
    cfg = core.config()
    counts = retention.purge(core.db(), core.now(), cfg.retention_days)
    core.record("retention.purge", f"older than {cfg.retention_days} days", None, counts)
    flash(f"已删除过期个人记录 Purged: {sum(counts.values())} rows", "ok")
    return redirect(url_for("admin.audit_log"))
