"""What the volunteer's screen shows, as one JSON snapshot (kiosk/web streams it).

Personal data appears only while a result is on screen (its countdown), names masked,
never an ID number.
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
        "gate": {"id": gate.config.gate_id, "direction": gate.direction.value},
        "mode": "courier" if gate.courier else ("result" if gate.result else "ready"),
        "ready": {"zh": PROMPT_ALL[gate.direction.value][0],
                  "en": PROMPT_ALL[gate.direction.value][1]},
        "prompt": None, "result": None, "courier": None,
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
            "camera_ok": gate.last_frame is not None,
            "fault": gate.fault,
        },
    }
    if gate.desk.signed_in:
        v = gate.desk.signed_in
        doc["volunteer"] = {"id": v.id, "name": v.name, "role": v.role}
    if gate.prompt is not None and gate.prompt.missing:
        kind = gate.prompt.missing[0]
        zh, en = _words(kind)
        doc["prompt"] = {"zh": f"请出示{zh}", "en": f"Show your {en}",
                         "name": gate.prompt.subject.name, "missing": list(gate.prompt.missing)}
    if gate.result is not None:
        r = gate.result
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
            "referral": gate.referral is not None and gate.referral.attempt_id == r.attempt_id,
            "seconds_left": max(0, round(r.until - now)),
        }
    if gate.courier is not None:
        doc["courier"] = gate.courier.to_json()
    return doc


def start_of_day(now: float, zone) -> float:
    d = datetime.fromtimestamp(now, zone)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
