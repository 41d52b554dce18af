"""The volunteer's screen at the gate (Chromium in kiosk mode on the Pi's touch screen).

create_app(gate, …) serves one page, a server-sent event stream of the screen's state
(kiosk/screen.py), the camera preview, the spoken prompts, and the volunteer's
actions. Every action runs on the gate loop's thread (gate.call) and is logged with
the volunteer. State-changing requests need the page's CSRF token. No asset comes
from outside the Pi.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from flask import (
    Flask,
    Response,
    abort,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from gatehouse.event_payloads import VolunteerPayload
from gatehouse.events import EventKind
from gatehouse.hosts import HostAllowlist
from gatehouse.identity import normalize_id
from gatehouse.parcels import valid_waybill
from gatehouse.pins import check_pin
from gatehouse.policy import Direction, Outcome
from kiosk.modes.courier import CourierMode
from kiosk.modes.entry import EntryMode
from kiosk.modes.pickup import PickupMode
from kiosk.scanner.preview import preview_jpeg
from kiosk.web.front import screen_names
from kiosk.screen import snapshot, start_of_day

REFERRAL_REASONS = {
    "admit": [("identity_checked", "已核实身份", "Identity checked"),
              ("paper_proof", "已查看纸质证明", "Paper proof seen"),
              ("test_shown", "已出示核酸结果", "Test result shown")],
    "refuse": [("must_isolate", "需居家隔离", "Must stay home"),
               ("identity_mismatch", "身份不符", "Identity does not match"),
               ("other", "其他原因", "Other reason")],
}
SSE_KEEPALIVE_S = 5.0


def create_app(gate, link_state: Callable[[], object] = lambda: None,
               voice_dir: Path | None = None, token: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["CSRF_TOKEN"] = token or secrets.token_urlsafe(24)
    # Only the Pi's own browser: loopback names (and the bound address, when a technician
    # serves the screen on the LAN). A rebound name never reaches a route.
    app.wsgi_app = HostAllowlist(app.wsgi_app, screen_names(gate.config.web_bind))
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 0

    def state() -> dict:
        return snapshot(gate, link_state())

    @app.before_request
    def csrf() -> None:
        if request.method in ("GET", "HEAD"):
            return
        if not secrets.compare_digest(request.headers.get("X-CSRF-Token", ""),
                                      app.config["CSRF_TOKEN"]):
            abort(403, "missing or wrong CSRF token")
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            abort(403, "cross-origin request")   # "null" (a sandboxed frame) too

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; media-src 'self'; "
            "style-src 'self'; script-src 'self'")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/")
    def page():
        return render_template("kiosk.html", token=app.config["CSRF_TOKEN"],
                               reasons=REFERRAL_REASONS, gate=gate.config.gate_id)

    @app.get("/api/state")
    def api_state():
        return jsonify(state())

    @app.get("/events")
    def events():
        def stream():
            last, beat = None, 0.0
            while True:
                doc = state()
                text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
                now = time.monotonic()
                if text != last:
                    last, beat = text, now
                    yield f"data: {text}\n\n"
                elif now - beat > SSE_KEEPALIVE_S:
                    beat = now
                    yield ": keepalive\n\n"
                time.sleep(0.1)
        return Response(stream(), mimetype="text/event-stream",
                        headers={"X-Accel-Buffering": "no"})

    @app.get("/preview.jpg")
    def preview():
        jpeg = preview_jpeg(gate.last_frame, list(gate.last_symbols))
        if jpeg is None:
            return Response(status=204)
        return Response(jpeg, mimetype="image/jpeg")

    @app.get("/voice/<name>.wav")
    def voice(name: str):
        if voice_dir is None or not (voice_dir / f"{name}.wav").is_file():
            abort(404)
        return send_from_directory(voice_dir, f"{name}.wav")

    @app.get("/api/counts")
    def counts():
        now = time.time()
        since = start_of_day(now, gate.bundle.policy.zone)
        return jsonify(gate.call(lambda: gate.store.counts_since(since)))

    # Volunteer actions ---------------------------------------------------------

    def body() -> dict:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400, "expected a JSON object")
        return data

    def volunteer():
        v = gate.desk.signed_in
        if v is None:
            abort(401, "sign in first")
        gate.desk.touch(time.time())
        return v

    @app.post("/api/signin")
    def sign_in():
        data = body()
        vid, pin = str(data.get("volunteer", "")), str(data.get("pin", ""))
        v = gate.desk.volunteers.get(vid)
        pin_ok = v is not None and check_pin(pin, v.pin_hash)  # slow: here, not in the loop

        def record():
            now = time.time()
            result = gate.desk.record(vid, pin_ok, now)
            # The id as keyed, cut to what the hub keeps: a long one is still logged.
            gate.store.log_event(EventKind.VOLUNTEER, now, VolunteerPayload(
                action="sign_in" if result.ok else result.reason, volunteer=vid[:40]))
            gate.changed()
            return result
        result = gate.call(record)
        status = 200 if result.ok else (423 if result.reason in ("locked", "paused") else 403)
        return jsonify({"ok": result.ok, "reason": result.reason,
                        "tries_left": result.tries_left,
                        "locked_until": result.locked_until}), status

    @app.post("/api/signout")
    def sign_out():
        def out():
            v = gate.desk.sign_out()
            if v:
                gate.store.log_event(EventKind.VOLUNTEER, time.time(),
                                     VolunteerPayload(action="sign_out", volunteer=v.id))
            gate.changed()
        gate.call(out)
        return jsonify({"ok": True})

    @app.post("/api/referral")
    def referral():
        v, data = volunteer(), body()
        decision = data.get("decision")
        reasons = dict((code, zh) for code, zh, _ in REFERRAL_REASONS.get(decision, []))
        if decision not in ("admit", "refuse") or data.get("reason") not in reasons:
            abort(400, "decision is admit or refuse, with a reason from the list")
        entry = gate.modes.get(EntryMode)
        ok = gate.call(lambda: entry.decide_referral(v.id, Outcome(decision), data["reason"]))
        if not ok:
            return jsonify({"ok": False, "reason": "no referral waiting"}), 409
        return jsonify({"ok": True})

    @app.post("/api/direction")
    def direction():
        v, data = volunteer(), body()
        if data.get("direction") not in ("in", "out"):
            abort(400, "direction is in or out")
        entry = gate.modes.get(EntryMode)
        gate.call(lambda: entry.set_direction(Direction(data["direction"]), v.id))
        return jsonify({"ok": True})

    @app.post("/api/manual")
    def manual_admit():
        v, data = volunteer(), body()
        if data.get("attest") is not True:
            abort(400, "the volunteer must attest having checked the ID card")
        id_number = str(data.get("id_number", ""))
        try:
            normalize_id(id_number)
        except ValueError as exc:
            return jsonify({"ok": False, "reason": "bad_id", "detail": str(exc)}), 400
        entry = gate.modes.get(EntryMode)
        d = gate.call(lambda: entry.admit_by_hand(v.id, id_number))
        if d is None:
            return jsonify({"ok": False, "reason": "not_found"}), 404
        return jsonify({"ok": True, "outcome": d.outcome.value, "zh": d.text("zh"),
                        "en": d.text("en")})

    @app.post("/api/visitor")
    def visitor_register():
        v, data = volunteer(), body()
        name, host = str(data.get("name", "")).strip(), str(data.get("host", "")).strip()
        if not name or not host:
            abort(400, "a visitor needs a name and a host household")
        entry = gate.modes.get(EntryMode)
        gate.call(lambda: entry.register_visitor(v.id, name[:40], str(data.get("phone", ""))[:20],
                                                host[:20], str(data.get("purpose", ""))))
        return jsonify({"ok": True})

    @app.post("/api/courier")
    def courier():
        v, data = volunteer(), body()

        mode = gate.modes.get(CourierMode)

        def act():
            if not mode.set(
                    room=str(data["room"])[:20] if "room" in data else None,
                    fresh=bool(data["fresh"]) if "fresh" in data else None,
                    frozen=bool(data["frozen"]) if "frozen" in data else None,
                    room_from_pass=bool(data["room_from_pass"])
                    if "room_from_pass" in data else None):
                return False
            if "waybill" in data and not mode.add_waybill(str(data["waybill"])[:40],
                                                          time.time(), v.id):
                return "bad_waybill"
            if data.get("undo"):
                mode.undo_last(time.time(), v.id)
            if data.get("end"):
                mode.end(time.time(), v.id)
            return True
        done = gate.call(act)
        if done == "bad_waybill":
            return jsonify({"ok": False, "reason": "运单号格式不对 not a waybill number"}), 400
        if not done:
            return jsonify({"ok": False, "reason": "no courier at the gate"}), 409
        return jsonify({"ok": True})

    @app.post("/api/pickup")
    def pickup():
        """The parcel area: a resident keys their pickup code (no sign-in: it is their SMS),
        taps 完成, or a signed-in volunteer keys a waybill the camera cannot read."""
        data = body()
        mode = gate.modes.get(PickupMode)
        if mode is None:
            return jsonify({"ok": False, "reason": "not a parcel-area kiosk"}), 409
        if data.get("done") is True:
            return jsonify({"ok": gate.call(lambda: mode.done(gate.now()))})
        if "code" in data:
            code = str(data["code"])[:40]
            r = gate.call(lambda: mode.key_code(code, gate.now()))
            if r.ok:  # a parcel still standing its hold: no slot to go and take it from
                return jsonify({"ok": True, "slot": r.parcel.slot
                                if r.parcel.ready(gate.now()) else None})
            status = {"paused": 429, "unknown": 404}.get(r.reason, 409)
            return jsonify({"ok": False, "reason": r.reason, "tries_left": r.tries_left,
                            "paused_until": r.paused_until}), status
        if "waybill" in data:
            v = volunteer()
            text = str(data["waybill"]).strip()[:40]
            if not valid_waybill(text):
                abort(400, "a waybill is 6-40 letters, digits and dashes")
            verdict = gate.call(lambda: mode.waybill(text, gate.now(), v.id))
            if verdict is None:
                return jsonify({"ok": False, "reason": "no pickup open"}), 409
            return jsonify({"ok": verdict.taken, "outcome": "taken" if verdict.taken
                            else "wrong", "why": verdict.why.value if verdict.why else None})
        abort(400, "send code, waybill or done")

    @app.errorhandler(400)
    @app.errorhandler(401)
    @app.errorhandler(403)
    @app.errorhandler(404)
    def error(e):
        return jsonify({"ok": False, "reason": e.description}), e.code

    return app
