"""The gate's own /healthz and /metrics, on the volunteer screen's port (loopback and the
screen's own names only, like every route here; no personal data, so no token).

/healthz: 200 while the gate can decide (camera delivering, no door fault), else 503
naming the part; the hub link, the outbox and the clock are reported, never a failure
(a gate runs offline). /metrics: the same as Prometheus gauges, and today's counts.
"""
from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from gatehouse.days import day_start
from gatehouse.prom_text import CONTENT_TYPE, Family, render
from kiosk.screen import snapshot
from kiosk.web.guards import screen

bp = Blueprint("health", __name__)


def _status() -> dict:
    s = screen()
    return snapshot(s.gate, s.link_state())["status"]


@bp.get("/healthz")
def healthz():
    st = _status()
    checks = {"camera": {"ok": bool(st["camera_ok"]), "frames": st["frames"]},
              "door": {"ok": not st["fault"], "fault": st["fault"] or None},
              "hub_link": {"ok": True, "state": st["hub"], "backlog": st["backlog"]},
              "clock": {"ok": True, "trusted": bool(st["clock_trusted"])},
              "bundle": {"ok": True, "version": st["bundle_version"],
                         "policy_version": st["policy_version"]}}
    ok = all(c["ok"] for c in checks.values())
    return jsonify({"ok": ok, "gate": screen().gate.config.gate_id, "checks": checks}), \
        200 if ok else 503


@bp.get("/metrics")
def metrics():
    gate = screen().gate
    st = _status()
    today = gate.call(lambda: gate.store.counts_since(
        day_start(time.time(), gate.bundle.policy.zone)))
    fams = [
        Family("kiosk_camera_ok", "1 while the camera delivers frames").add(st["camera_ok"]),
        Family("kiosk_door_fault", "1 while the door reports a fault").add(bool(st["fault"])),
        Family("kiosk_hub_connected", "1 while linked to the hub's broker").add(
            st["hub"] == "online"),
        Family("kiosk_outbox_backlog", "Events not yet acknowledged by the hub").add(
            st["backlog"] or 0),
        Family("kiosk_clock_trusted", "1 while the clock is trusted").add(st["clock_trusted"]),
        Family("kiosk_frames", "Frames read since start", type="counter").add(st["frames"]),
        Family("kiosk_bundle_version", "The signed bundle in use").add(st["bundle_version"]),
        Family("kiosk_today", "Today's attempts: admitted in/out, referred, refused").add(
            today.get("in", 0), kind="in").add(today.get("out", 0), kind="out").add(
            today.get("refer", 0), kind="refer").add(today.get("refuse", 0), kind="refuse"),
    ]
    return Response(render(fams), content_type=CONTENT_TYPE)
