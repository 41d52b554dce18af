"""The screen's state as JSON (kiosk/screen.py builds it): once, as a stream of changes
for the page, and today's counts for the volunteer."""
from __future__ import annotations

import json
import threading
import time

from flask import Blueprint, Response, current_app, jsonify

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


# The screen has 8 threads; each open stream holds one. Any process on this machine could
# open streams until sign-in hung (found by the attacking review): a few streams, each
# for a while; beyond them 204, and the page polls /api/state instead.
MAX_STREAMS = 3
STREAM_S = 300.0


class _Stream:
    """A stream's body that gives its slot back exactly once, however it ends (client
    gone, never started, or its time up)."""

    def __init__(self, s: Screen, slots: threading.BoundedSemaphore):
        self.s, self.slots, self.open = s, slots, True

    def __iter__(self):
        last, beat, end = None, 0.0, time.monotonic() + STREAM_S
        while time.monotonic() < end:
            text = json.dumps(state_of(self.s), ensure_ascii=False, sort_keys=True)
            now = time.monotonic()
            if text != last:
                last, beat = text, now
                yield f"data: {text}\n\n"
            elif now - beat > SSE_KEEPALIVE_S:
                beat = now
                yield ": keepalive\n\n"
            time.sleep(0.1)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.slots.release()


@bp.get("/events")
def events():
    slots = current_app.extensions.setdefault("kiosk.streams",
                                              threading.BoundedSemaphore(MAX_STREAMS))
    if not slots.acquire(blocking=False):
        return Response(status=204)       # EventSource stops; the page polls instead
    # The stream outlives the request: it takes what it needs now.
    return Response(_Stream(screen(), slots), mimetype="text/event-stream",
                    headers={"X-Accel-Buffering": "no"})


@bp.get("/api/counts")
def counts():
    gate = screen().gate
    since = day_start(time.time(), gate.bundle.policy.zone)   # the compound's day
    return jsonify(gate.call(lambda: gate.store.counts_since(since)))
