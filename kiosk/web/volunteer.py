"""Signing a volunteer in and out on the screen (PIN on the keypad; lockouts and pauses
in kiosk/volunteers.py). Every sign-in, failure and sign-out is logged."""
from __future__ import annotations

import time

from flask import Blueprint, jsonify

from gatehouse.event_payloads import VolunteerPayload
from gatehouse.events import EventKind
from gatehouse.volunteer_pins import check_pin
from kiosk.web.guards import body, screen

bp = Blueprint("volunteer", __name__)


@bp.post("/api/signin")
def sign_in():
    gate, data = screen().gate, body()
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


@bp.post("/api/signout")
def sign_out():
    gate = screen().gate

    def out():
        v = gate.desk.sign_out()
        if v:
            gate.store.log_event(EventKind.VOLUNTEER, time.time(),
                                 VolunteerPayload(action="sign_out", volunteer=v.id))
        gate.changed()
    gate.call(out)
    return jsonify({"ok": True})
