"""What the volunteer's screen shows, as one JSON snapshot (kiosk/web streams it).

Personal data appears only while a result is on screen (its countdown), names masked,
never an ID number. At the parcel area the household of the open pickup is masked too
(7-**2) and leaves the screen result_seconds after the pickup ends.
"""
from __future__ import annotations

import time
from datetime import datetime

from gatehouse.policy import Outcome
from gatehouse.policy.reasons import WORDS

PROMPT_ALL = {"in": ("请出示出入证和健康码", "Show your pass and health code"),
              "out": ("请出示出入证", "Show your pass")}


def _words(kind: str) -> tuple[str, str]:
    return WORDS.get(kind, (kind, kind))


def snapshot(gate, link_state=None, now: float | None = None) -> dict:
    """The screen's state; cheap enough to build several times a second."""
    now = time.time() if now is None else now
    b = gate.bundle
    doc: dict = {
        "version": gate.screen_version,
        "gate": {"id": gate.config.gate_id, "direction": gate.direction.value,
                 "role": gate.config.role},
        "mode": None,
        "ready": {"zh": PROMPT_ALL[gate.direction.value][0],
                  "en": PROMPT_ALL[gate.direction.value][1]},
        "prompt": None, "result": None, "courier": None, "pickup": None,
        "volunteer": None,
        "volunteers": [{"id": v.id, "name": v.name, "role": v.role,
                        "locked": gate.desk.locked(v.id, now) is not None}
                       for v in gate.desk.volunteers.values()],
        "status": {
            "hub": "none" if link_state is None else (
                "online" if link_state.connected else "offline"),
            "backlog": link_state.backlog if link_state else None,
            "clock_trusted": gate.clock_trusted(),
            "policy_version": b.policy.version, "bundle_version": b.version,
            "decoder": gate.config.decoder, "frames": gate.frames,
            # A camera that stopped delivering is not "ok", whatever it did before.
            "camera_ok": gate.last_frame_at is not None and now - gate.last_frame_at < 3.0,
            "fault": gate.fault,
        },
    }
    # The loop thread replaces these while we read: take each reference once.
    volunteer, prompt, r = gate.desk.signed_in, gate.prompt, gate.result
    referral, courier, pickup = gate.referral, gate.courier, gate.pickup
    doc["mode"] = "courier" if courier else (
        "pickup" if pickup is not None else ("result" if r else "ready"))
    if volunteer:
        doc["volunteer"] = {"id": volunteer.id, "name": volunteer.name, "role": volunteer.role}
    if prompt is not None and prompt.missing:
        kind = prompt.missing[0]
        zh, en = _words(kind)
        doc["prompt"] = {"zh": f"请出示{zh}", "en": f"Show your {en}",
                         "name": prompt.subject.name, "missing": list(prompt.missing)}
    if r is not None:
        d = r.decision
        outcome = r.decided or d.outcome
        doc["result"] = {
            "outcome": outcome.value, "policy_outcome": d.outcome.value,
            "name": d.subject.name, "household": d.subject.household,
            "who": d.subject.who.value if d.subject.who else None,
            "zh": d.text("zh") if not r.decided else
            ("志愿者已放行" if outcome is Outcome.ADMIT else "志愿者已拒绝"),
            "en": d.text("en") if not r.decided else
            ("Admitted by a volunteer" if outcome is Outcome.ADMIT
             else "Refused by a volunteer"),
            "reasons": [{"code": f.reason.value, "zh": f.text("zh"), "en": f.text("en")}
                        for f in d.findings if f.outcome is not None],
            "referral": referral is not None and referral.attempt_id == r.attempt_id,
            "seconds_left": max(0, round(r.until - now)),
        }
    if courier is not None:
        doc["courier"] = courier.to_json()
    if pickup is not None:
        doc["pickup"] = pickup.to_json(now, doc["status"]["clock_trusted"])
    return doc


def start_of_day(now: float, zone) -> float:
    d = datetime.fromtimestamp(now, zone)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
