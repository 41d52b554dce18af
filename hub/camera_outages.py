"""A gate's camera lost and back (`camera` events): one open alert while it is blind.

While its camera is lost a gate reads no codes (its gun and buttons still work), so
the office hears of it as a `camera_lost` alert; the gate's `back` event acknowledges
that alert with how long the gate was blind. A camera that comes and goes keeps one
alert per gate, reopened, not one per outage.
"""
from __future__ import annotations

from gatehouse.event_payloads import CameraPayload
from gatehouse.events import EventKind
from hub import alert_log
from hub.alert_kinds import AlertKind
from hub.event_handlers import EventHandlers, Stored

ACKED_BY = "gate"   # who closed the alert: the gate itself, when its camera came back
REOPEN_S = 600.0    # lost again this soon after back: the same outage, its alert reopened


def _close(s: Stored, alert_id: int, at: float, lost_for_s: float | None) -> None:
    blind = f" after {lost_for_s:.0f} s" if lost_for_s is not None else ""
    s.db.execute("update alerts set acked_at = ?, acked_by = ?, note = ? where id = ?",
                 [at, ACKED_BY, f"camera back{blind}", alert_id])


def on_camera(s: Stored) -> int:
    p = s.payload
    assert isinstance(p, CameraPayload)
    kind = AlertKind.CAMERA_LOST.value
    open_alert = s.db.execute("select id from alerts where gate = ? and kind = ? and "
                              "acked_at is null", [s.gate, kind]).fetchone()
    # The gate's link sends new events ahead of an old backlog (and `hub gate reapply`
    # comes later still): a word older than one already stored changes nothing open.
    newer = s.db.execute("select at, json_extract(payload, '$.state'), "
                         "json_extract(payload, '$.lost_for_s') from gate_events where "
                         "gate = ? and kind = ? and seq > ? order by seq desc limit 1",
                         [s.gate, EventKind.CAMERA.value, s.event.seq]).fetchone()
    if p.state == "lost" and open_alert is None:
        recent = s.db.execute("select id from alerts where gate = ? and kind = ? and "
                              "acked_by = ? and acked_at >= ? order by id desc limit 1",
                              [s.gate, kind, ACKED_BY, s.event.at - REOPEN_S]).fetchone()
        if recent is not None:   # it comes and goes: the same alert, reopened
            if newer is None:
                s.db.execute("update alerts set acked_at = null, acked_by = null, "
                             "note = null where id = ?", [recent[0]])
            return 0
        alert_log.add_alert(s.db, s.event.at, s.gate, AlertKind.CAMERA_LOST, s.event.id,
                            {"problem": p.problem})
        if newer is not None and newer[1] == "back":   # over before it reached us
            (new_id,) = s.db.execute("select id from alerts where event_id = ? and kind = ?",
                                     [s.event.id, kind]).fetchone()
            _close(s, new_id, newer[0], newer[2])
    elif p.state == "back" and open_alert is not None and newer is None:
        _close(s, open_alert[0], s.event.at, p.lost_for_s)
    return 0


def register(handlers: EventHandlers) -> None:
    handlers.handle(EventKind.CAMERA, on_camera)
