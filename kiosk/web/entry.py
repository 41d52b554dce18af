"""A signed-in volunteer at the entrance: decide a referral, switch the lane, admit by
hand a resident without a phone. Each runs on the gate loop's thread in the entry mode
(kiosk/modes/entry.py), logged with the volunteer. A parcel area runs no entry mode:
these answer 409 there (its page does not offer them)."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify

from gatehouse.identity import normalize_id
from gatehouse.policy import Direction, Outcome
from kiosk.modes.entry import EntryMode
from kiosk.web.guards import body, screen, volunteer

REFERRAL_REASONS = {
    "admit": [("identity_checked", "已核实身份", "Identity checked"),
              ("paper_proof", "已查看纸质证明", "Paper proof seen"),
              ("test_shown", "已出示核酸结果", "Test result shown")],
    "refuse": [("must_isolate", "需居家隔离", "Must stay home"),
               ("identity_mismatch", "身份不符", "Identity does not match"),
               ("other", "其他原因", "Other reason")],
}

bp = Blueprint("entry", __name__)


def entry_mode() -> EntryMode:
    return screen().gate.modes.get(EntryMode)


@bp.before_request
def entrance_only():
    if entry_mode() is None:
        return jsonify({"ok": False, "reason": "not an entrance"}), 409
    return None


@bp.post("/api/referral")
def referral():
    v, data = volunteer(), body()
    decision = data.get("decision")
    reasons = dict((code, zh) for code, zh, _ in REFERRAL_REASONS.get(decision, []))
    if decision not in ("admit", "refuse") or data.get("reason") not in reasons:
        abort(400, "decision is admit or refuse, with a reason from the list")
    mode = entry_mode()
    ok = screen().gate.call(lambda: mode.decide_referral(v.id, Outcome(decision),
                                                         data["reason"]))
    if not ok:
        return jsonify({"ok": False, "reason": "no referral waiting"}), 409
    return jsonify({"ok": True})


@bp.post("/api/direction")
def direction():
    v, data = volunteer(), body()
    if data.get("direction") not in ("in", "out"):
        abort(400, "direction is in or out")
    mode = entry_mode()
    screen().gate.call(lambda: mode.set_direction(Direction(data["direction"]), v.id))
    return jsonify({"ok": True})


@bp.post("/api/manual")
def manual_admit():
    v, data = volunteer(), body()
    if data.get("attest") is not True:
        abort(400, "the volunteer must attest having checked the ID card")
    id_number = str(data.get("id_number", ""))
    try:
        normalize_id(id_number)
    except ValueError as exc:
        return jsonify({"ok": False, "reason": "bad_id", "detail": str(exc)}), 400
    mode = entry_mode()
    d = screen().gate.call(lambda: mode.admit_by_hand(v.id, id_number))
    if d is None:
        return jsonify({"ok": False, "reason": "not_found"}), 404
    return jsonify({"ok": True, "outcome": d.outcome.value, "zh": d.text("zh"),
                    "en": d.text("en")})
