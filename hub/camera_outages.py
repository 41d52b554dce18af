"""A gate's camera lost and back (`camera` events): one open alert while it is blind.

While its camera is lost a gate reads no codes (its gun and buttons still work), so
the office hears of it as a `camera_lost` alert; the gate's `back` event acknowledges
that alert with how long the gate was blind. A camera that comes and goes keeps one
open alert per gate, not one per outage.
"""
from __future__ import annotations

from gatehouse.event_payloads import CameraPayload
from gatehouse.events import EventKind
from hub import alert_log
from hub.alert_kinds import AlertKind
from hub.event_handlers import EventHandlers, Stored

ACKED_BY = "gate"   # who closed the alert: the gate itself, when its camera came back


def on_camera(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, CameraPayload)
    open_alert = s.db.execute("select id from alerts where gate = ? and kind = ? and "
                              "acked_at is null", [s.gate, AlertKind.CAMERA_LOST.value]
                              ).fetchone()
    if p.state == "lost" and open_alert is None:
        alert_log.add_alert(s.db, s.event.at, s.gate, AlertKind.CAMERA_LOST, s.event.id,
                            {"problem": p.problem})
    elif p.state == "back" and open_alert is not None:
        blind = f" after {p.lost_for_s:.0f} s" if p.lost_for_s is not None else ""
        s.db.execute("update alerts set acked_at = ?, acked_by = ?, note = ? where id = ?",
                     [s.event.at, ACKED_BY, f"camera back{blind}", open_alert[0]])
    return 0


def register(handlers: EventHandlers) -> None:
    handlers.handle(EventKind.CAMERA, on_camera)
