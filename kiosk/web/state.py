"""The screen's state as JSON (kiosk/screen.py builds it): once, as a stream of changes
for the page, and today's counts for the volunteer."""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, jsonify

from gatehouse.days import day_start
from kiosk.screen import snapshot
from kiosk.web.guards import Screen, screen

SSE_KEEPALIVE_S = 5.0

bp = Blueprint("state", __name__)


def state_of(s: Screen) -> dict:
    return snapshot(s.gate, s.link_state())


@bp.get("/api/state")
def api_state():
    return jsonify(state_of(screen()))


@bp.get("/events")
def events():
    s = screen()  # the stream outlives the request: take what it needs now

    def stream():
        last, beat = None, 0.0
        while True:
            text = json.dumps(state_of(s), ensure_ascii=False, sort_keys=True)
            now = time.monotonic()
            if text != last:
                last, beat = text, now
                yield f"data: {text}\n\n"
            elif now - beat > SSE_KEEPALIVE_S:
                beat = now
                yield ": keepalive\n\n"
            time.sleep(0.1)
    return Response(stream(), mimetype="text/event-stream",
                    headers={"X-Accel-Buffering": "no"})


@bp.get("/api/counts")
def counts():
    gate = screen().gate
    since = day_start(time.time(), gate.bundle.policy.zone)   # the compound's day
    return jsonify(gate.call(lambda: gate.store.counts_since(since)))
