"""A signed-in volunteer during a courier's drop-off: key the room, set fresh/frozen,
take the room from the next pass, key a waybill that will not scan, undo, end
(kiosk/modes/courier.py)."""
from __future__ import annotations

import time

from flask import Blueprint, jsonify

from kiosk.modes.courier import CourierMode
from kiosk.web.guards import body, screen, volunteer

bp = Blueprint("courier", __name__)


@bp.post("/api/courier")
def courier():
    v, data = volunteer(), body()
    gate = screen().gate
    mode = gate.modes.get(CourierMode)

    def act():
        if not mode.set(
                room=str(data["room"])[:20] if "room" in data else None,
                fresh=bool(data["fresh"]) if "fresh" in data else None,
                frozen=bool(data["frozen"]) if "frozen" in data else None,
                room_from_pass=bool(data["room_from_pass"]) if "room_from_pass" in data
                else None):
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
