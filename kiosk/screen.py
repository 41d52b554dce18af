"""What the volunteer's screen shows, as one JSON snapshot (kiosk/web streams it).

Personal data appears only while a result is on screen (its countdown), names masked,
never an ID number. At the parcel area the household of the open pickup is masked too
(7-**2) and leaves the screen result_seconds after the pickup ends.
"""
from __future__ import annotations

import time

from kiosk.gate import Gate
from kiosk.modes.entry import PROMPT_ALL


def snapshot(gate: Gate, link_state=None, now: float | None = None) -> dict:
    """The screen's state; cheap enough to build several times a second. The gate's
    part (status strip, volunteers) is built here; each mode adds its own keys
    (kiosk/modes/), and the first mode in charge names the screen's `mode`."""
    now = time.time() if now is None else now
    b = gate.bundle
    direction = gate.direction.value
    doc: dict = {
        "version": gate.screen_version,
        "gate": {"id": gate.config.gate_id, "direction": direction,
                 "role": gate.config.role},
        "mode": None,
        "ready": {"zh": PROMPT_ALL[direction][0], "en": PROMPT_ALL[direction][1]},
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
    volunteer = gate.desk.signed_in  # the loop thread replaces it: read it once
    if volunteer:
        doc["volunteer"] = {"id": volunteer.id, "name": volunteer.name, "role": volunteer.role}
    doc.update(gate.modes.screen_state(now))
    doc["mode"] = gate.modes.screen_mode()
    return doc

