"""What the residents were told and what did not reach them: the notification outbox."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gatehouse.privacy import mask_household, mask_phone
from hub import notify
from hub.notify_senders import describe
from hub.users import Perm
from hub.web import core

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

STATE_LABELS = {"pending": "待发送 Pending", "sent": "已发送 Sent", "failed": "失败 Failed",
                "skipped": "未发送 Skipped"}
KIND_LABELS = {"pickup": "取件 Pickup", "batch": "团购 Group purchase",
               "overdue": "超期 Overdue"}


def _channel() -> str:
    try:
        return describe(notify.load_config(core.config().home))
    except notify.NotifyError as exc:
        return f"配置有误 misconfigured: {exc}"


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    state = request.args.get("state", "")
    if state not in STATE_LABELS:
        state = ""
    db = core.db()
    rows = notify.listing(db, state or None)
    # Households masked; a message's text (its pickup codes open parcels) only for those
    # who handle notifications or parcels.
    bodies = core.allowed(Perm.NOTIFY) or core.allowed(Perm.PARCELS)
    for r in rows:
        r["phone"] = mask_phone(r["recipient"]) if r["recipient"] else ""
        r["household"] = mask_household(r["household"]) if r["household"] else None
        if not bodies:
            r["body"] = "（仅通知/快递人员可见 shown to notification and parcel staff）"
    return render_template("notifications.html", rows=rows, counts=notify.counts(db),
                           state=state, states=STATE_LABELS, kinds=KIND_LABELS,
                           channel=_channel())


@bp.route("/<int:nid>/retry", methods=["POST"])
@core.require(Perm.NOTIFY)
def retry(nid: int):
    db = core.db()
    row = next(db.query("select state from notifications where id = ?", [nid]), None)
    if row is None:
        abort(404)
    try:
        after = notify.retry(db, nid, core.now(), core.user())
    except notify.NotifyError as exc:
        flash(str(exc), "error")
    else:
        core.record("notification.retry", nid, {"state": row["state"]}, {"state": after.value})
        if after is notify.State.SKIPPED:
            flash(f"#{nid}: 仍没有电话 still no phone on file — add it on the residents page",
                  "error")
        else:
            flash(f"#{nid}: 已重新排队 queued again", "ok")
    state = request.form.get("state", "")
    return redirect(url_for("notifications.index", state=state if state in STATE_LABELS else None))
