"""The parcel area's screen (kiosk/modes/pickup.py): a resident keys their pickup code (no
sign-in: it is their SMS) or taps 完成; a signed-in volunteer keys a waybill the camera
cannot read."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify

from gatehouse.parcels import valid_waybill
from kiosk.modes.pickup import PickupMode
from kiosk.web.guards import body, screen, volunteer

bp = Blueprint("pickup", __name__)


@bp.post("/api/pickup")
def pickup():
    data, gate = body(), screen().gate
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
