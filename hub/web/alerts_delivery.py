"""Where the office's alerts go (routes) and what was sent and what failed (/alerts/delivery)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gatehouse.privacy import mask_phone
from hub import alert_delivery, outbox
from hub.alert_kinds import LABELS, AlertKind, label_of
from hub.alert_rules import (
    ALL,
    SMS_KINDS,
    AlertRoute,
    AlertRulesError,
    RouteChannel,
    load_rules,
    save_rules,
)
from hub.notify_senders import shown_url
from hub.users import Perm
from hub.web import core

bp = Blueprint("alert_delivery", __name__, url_prefix="/alerts/delivery")

STATE_LABELS = {"pending": "待发送 Pending", "sent": "已发送 Sent", "failed": "失败 Failed"}
CHANNEL_LABELS = {RouteChannel.WECOM: "企业微信群机器人 WeCom robot",
                  RouteChannel.DINGTALK: "钉钉群机器人 DingTalk robot",
                  RouteChannel.WEBHOOK: "Webhook", RouteChannel.SMS: "短信 SMS",
                  RouteChannel.FILE: "文件 File"}
# What the page lists of a route: never its secret, nor the robot key in its URL.
STORED_KINDS = [k for k in AlertKind if k is not AlertKind.CLOCK_UNTRUSTED]


def _path():
    return alert_delivery.config_path(core.config().home.hub)


def _shown(route: AlertRoute) -> dict:
    where = route.url if route.channel is RouteChannel.FILE else shown_url(route.url)
    return {"name": route.name, "channel": CHANNEL_LABELS[route.channel], "where": where,
            "kinds": "全部 all" if ALL in route.kinds else "、".join(
                LABELS[AlertKind(k)][0] for k in route.kinds),
            "gates": ", ".join(route.gates) or "全部 all", "quiet": route.quiet or "—",
            "burst_s": route.burst_s, "phones": ", ".join(mask_phone(p) for p in route.phones),
            "secret": bool(route.secret)}


def _messages(state: str) -> list[dict]:
    rows = outbox.listing(core.db(), state or None, kind=outbox.Kind.ALERT)
    for r in rows:
        parts = r["key"].split(":", 3)
        r["route"] = parts[1] if len(parts) > 2 else ""
        r["phone"] = mask_phone(r["recipient"]) if r["recipient"] else ""
    return rows


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    state = request.args.get("state", "")
    state = state if state in STATE_LABELS else ""
    try:
        routes, problem = load_rules(_path()).routes, ""
    except AlertRulesError as exc:
        routes, problem = (), str(exc)
    counts = outbox.counts(core.db(), outbox.Kind.ALERT)
    return render_template("alerts_delivery.html", routes=[_shown(r) for r in routes],
                           problem=problem, rows=_messages(state), state=state,
                           states=STATE_LABELS, counts=counts, kinds=STORED_KINDS,
                           sms_kinds={k.value for k in SMS_KINDS}, label_of=label_of,
                           channels=CHANNEL_LABELS)


def _listed(name: str) -> tuple[str, ...]:
    text = request.form.get(name, "").replace("，", ",")
    return tuple(x.strip() for x in text.split(",") if x.strip())


@bp.route("/routes", methods=["POST"])
@core.require(Perm.ALERT_ROUTES)
def save_route():
    path = _path()
    try:
        rules = load_rules(path)
        name = request.form.get("name", "").strip()
        old = next((r for r in rules.routes if r.name == name), None)
        kinds = tuple(request.form.getlist("kinds")) or (ALL,)
        route = AlertRoute(
            name=name, channel=RouteChannel(request.form.get("channel", "")),
            url=request.form.get("url", "").strip(),
            # Left empty: the route keeps its secret (the page never shows it back).
            secret=request.form.get("secret", "").strip() or (old.secret if old else ""),
            kinds=(ALL,) if ALL in kinds else kinds, gates=_listed("gates"),
            quiet=request.form.get("quiet", "").strip(),
            burst_s=float(request.form.get("burst_s") or 60), phones=_listed("phones"),
            sign=request.form.get("sign", "").strip(),
            style=request.form.get("style", "text"))
        if route.channel is RouteChannel.FILE:
            # A file route writes where the hub may write (its database, its keys): set
            # in alerts.json by the technician only, never from the page.
            raise AlertRulesError("a file route is set in alerts.json by the technician")
        save_rules(path, rules.with_route(route))
    except (AlertRulesError, ValueError) as exc:
        flash(f"未保存 Not saved: {exc}", "error")
        return redirect(url_for("alert_delivery.index"))
    core.record("alert_route.save", name, _shown(old) if old else None, _shown(route))
    flash(f"已保存 Saved: {name}", "ok")
    return redirect(url_for("alert_delivery.index"))


@bp.route("/routes/<name>/delete", methods=["POST"])
@core.require(Perm.ALERT_ROUTES)
def delete_route(name: str):
    path = _path()
    try:
        rules = load_rules(path)
    except AlertRulesError as exc:
        flash(str(exc), "error")
        return redirect(url_for("alert_delivery.index"))
    old = next((r for r in rules.routes if r.name == name), None)
    if old is None:
        abort(404)
    save_rules(path, rules.without(name))
    core.record("alert_route.delete", name, _shown(old), None)
    flash(f"已删除 Removed: {name}", "ok")
    return redirect(url_for("alert_delivery.index"))


@bp.route("/routes/<name>/test", methods=["POST"])
@core.require(Perm.ALERT_ROUTES)
def test_route(name: str):
    """Queue a test message on a route: `hub serve` sends it within seconds, and the list
    below shows whether the robot or gateway took it."""
    try:
        route = next((r for r in load_rules(_path()).routes if r.name == name), None)
    except AlertRulesError as exc:
        flash(str(exc), "error")
        return redirect(url_for("alert_delivery.index"))
    if route is None:
        abort(404)
    now = core.now()
    compound = core.compound().name
    body = (f"【{compound}】测试消息 Test message\n"
            f"告警推送已接通 Alerts reach this {CHANNEL_LABELS[route.channel]}\n"
            f"时间 Time: {core.local(now, '%m-%d %H:%M:%S')}")
    for target, recipient in route.targets():
        outbox.queue(core.db(), kind=outbox.Kind.ALERT, body=body, at=now, hold=0,
                     key=f"{alert_delivery.route_keys(name)}{target}:test:{core.user()}:{now}",
                     recipient=recipient)
    core.record("alert_route.test", name)
    flash(f"已排队测试消息 Test message queued: {name}", "ok")
    return redirect(url_for("alert_delivery.index"))


@bp.route("/<int:nid>/retry", methods=["POST"])
@core.require(Perm.NOTIFY)
def retry(nid: int):
    db = core.db()
    row = next(db.query("select state from notifications where id = ? and kind = ?",
                        [nid, outbox.Kind.ALERT.value]), None)
    if row is None:
        abort(404)
    try:
        after = outbox.retry(db, nid, core.now(), core.user())
    except outbox.NotifyError as exc:
        flash(str(exc), "error")
    else:
        core.record("alert_message.retry", nid, {"state": row["state"]}, {"state": after.value})
        flash(f"#{nid}: 已重新排队 queued again", "ok")
    return redirect(url_for("alert_delivery.index"))
