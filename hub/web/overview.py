"""The live overview: gates, today's counts and chart, people inside, alerts (SSE)."""
from __future__ import annotations

import json
import threading
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from gatehouse.privacy import mask_household, mask_name
from hub import policy_versions, presence
from hub.alert_kinds import AlertKind, label_of
from hub.compound import Compound
from hub.metrics import is_online
from hub.users import Perm
from hub.web import chart, core

bp = Blueprint("overview", __name__)

# A live stream holds one of the server's threads (waitress: 16) for as long as it lasts;
# past this many at once a tab is told 204 and polls /api/overview instead (app.js), so
# open tabs can never take every thread from the other pages. `app.config` may set it.
MAX_STREAMS = 4
POLL_S = 5
_streams_lock = threading.Lock()


def streams() -> threading.BoundedSemaphore:
    """This app's permits for live streams."""
    ext = current_app.extensions
    with _streams_lock:
        if "gatehouse_streams" not in ext:
            ext["gatehouse_streams"] = threading.BoundedSemaphore(
                current_app.config.get("GATEHOUSE_MAX_STREAMS", MAX_STREAMS))
    return ext["gatehouse_streams"]


def gate_rows(db, now: float, offline_after: float) -> list[dict]:
    out = []
    for r in db.query("select * from gates where retired_at is null order by id"):
        beat = json.loads(r["heartbeat"]) if r["heartbeat"] else {}
        online = is_online(r["online"], r["heartbeat_at"], now, offline_after)
        out.append({"id": r["id"], "name": r["name"], "online": online,
                    "heartbeat_at": r["heartbeat_at"], "heartbeat": core.local(
                        r["heartbeat_at"], "%H:%M:%S") if r["heartbeat_at"] else "—",
                    "outbox": beat.get("outbox"), "policy_version": beat.get("policy_version"),
                    "bundle_version": beat.get("bundle_version"),
                    "clock_trusted": beat.get("clock_trusted"), "fps": beat.get("fps"),
                    "mock_pins": beat.get("pins") == "mock",
                    # a parcel kiosk: how old its shelf list is (versions are the hub's ms)
                    "manifest_age": max(0, round(now - beat["manifest_version"] / 1000))
                    if beat.get("manifest_version") else None})
    return out


def open_alerts(db, limit: int = 50) -> list[dict]:
    rows = list(db.query("select * from alerts where acked_at is null order by at desc limit ?",
                         [limit]))
    for r in rows:
        r["label"] = label_of(r["kind"])
        r["when"] = core.local(r["at"], "%m-%d %H:%M:%S")
        r["detail"] = masked_detail(r["detail"])
    return rows


def masked_detail(text: str | None) -> str:
    """An alert's detail for a screen: the person's name and household masked (an
    attempt's alert carries both), the rest as it is."""
    try:
        doc = json.loads(text or "{}")
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    if doc.get("name"):
        doc["name"] = mask_name(doc["name"])
    if doc.get("household"):
        doc["household"] = mask_household(doc["household"])
    return json.dumps(doc, ensure_ascii=False)


def snapshot(db) -> dict:
    now, cfg = core.now(), core.config()
    start = core.day_start(now)
    gates = gate_rows(db, now, cfg.offline_after_s)
    alerts = open_alerts(db)
    alerts += [{"id": None, "gate": g["id"], "kind": AlertKind.CLOCK_UNTRUSTED.value,
                "label": AlertKind.CLOCK_UNTRUSTED.label, "when": g["heartbeat"],
                "detail": "{}"} for g in gates if g["clock_trusted"] is False]
    counts = presence.today_counts(db, start, start + 86400)
    return {"gates": gates, "today": counts["per_gate"],
            "totals": {k: sum(g[k] for g in counts["per_gate"].values())
                       for k in ("entries", "exits", "refusals", "referrals")},
            "inside": len(presence.inside_now(db, now)),
            "out": len(presence.out_now(db, now)), "alerts": alerts,
            "policy_version": policy_versions.current_policy(db).version,
            "now": core.local(now, "%H:%M:%S")}


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    return render_template("overview.html", s=snapshot(core.db()))


@bp.route("/api/overview")
@core.require(Perm.VIEW)
def api():
    return jsonify(snapshot(core.db()))


@bp.route("/events")
@core.require(Perm.VIEW)
def events():
    """Server-sent events: the overview whenever it changes; reconnects after a while.
    When MAX_STREAMS are open, 204: the browser stops reconnecting and polls."""
    cfg = core.config()
    app_ctx_home = cfg.home
    permits = streams()
    if not permits.acquire(blocking=False):
        return Response(status=204, headers={"Cache-Control": "no-store",
                                             "X-Gatehouse-Poll": str(POLL_S)})

    @stream_with_context
    def stream():
        c = Compound.open(app_ctx_home)
        try:
            last, end = None, time.monotonic() + cfg.sse_seconds
            yield "retry: 2000\n\n"
            while time.monotonic() < end:
                snap = snapshot(c.db)
                body = json.dumps({k: v for k, v in snap.items() if k != "now"},
                                  ensure_ascii=False, sort_keys=True)
                if body != last:
                    last = body
                    yield f"data: {json.dumps(snap, ensure_ascii=False)}\n\n"
                else:
                    yield ": keep-alive\n\n"
                time.sleep(cfg.sse_poll_s)
        finally:
            c.db.close()

    released = []

    def release() -> None:   # once, when the server closes the response (or the tab goes)
        if not released:
            released.append(True)
            permits.release()

    resp = Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    resp.call_on_close(release)
    return resp


@bp.route("/overview/chart.svg")
@core.require(Perm.VIEW)
def chart_svg():
    now = core.now()
    start = core.day_start(now)
    gate = request.args.get("gate") or None
    db = core.db()
    if gate:
        counts = presence.today_counts_gate(db, start, start + 86400, gate)
    else:
        counts = presence.today_counts(db, start, start + 86400)["per_hour"]
    return Response(chart.hourly(counts), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-store"})


@bp.route("/alerts")
@core.require(Perm.VIEW)
def alerts():
    db = core.db()
    acked = list(db.query("select * from alerts where acked_at is not null "
                          "order by acked_at desc limit 100"))
    for r in acked:
        r["label"] = label_of(r["kind"])
    return render_template("alerts.html", open=open_alerts(db, 500), acked=acked)


@bp.route("/alerts/<int:alert_id>/ack", methods=["POST"])
@core.require(Perm.ACK)
def ack(alert_id: int):
    db = core.db()
    row = next(db.query("select * from alerts where id = ?", [alert_id]), None)
    if row is None:
        abort(404)
    note = request.form.get("note", "").strip()[:500]
    if not note:
        flash("请填写处理说明 / Write a note on what was done", "error")
        return redirect(request.referrer or url_for("overview.alerts"))
    if row["acked_at"] is None:
        db["alerts"].update(alert_id, {"acked_at": core.now(), "acked_by": core.user(),
                                       "note": note})
        core.record("alert.ack", alert_id, {"acked": False, "kind": row["kind"]},
                    {"acked": True, "note": note})
        flash(f"已确认告警 #{alert_id} / Alert acknowledged", "ok")
    return redirect(request.referrer or url_for("overview.alerts"))
