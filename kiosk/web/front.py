"""The volunteer screen's front door for the kiosk's whole life.

The screen must be up before anything else can go wrong: a new gate waits for the
hub's first bundle, a gate may have no camera, and systemd hears READY=1 only once the
screen listens. So `kiosk run` serves this WSGI app from the start: a waiting page (no
gate yet), then the gate's own app (kiosk/web create_app) once the gate exists, and
`/api/notices` throughout (kiosk/notices.py: mock pins, camera missing, no bundle).
Both pages poll the notices and load themselves again when the phase or the process
changes. Like the gate's app, it answers only to the screen's own host names.
"""
from __future__ import annotations

import json

from flask import Flask, jsonify, render_template

from gatehouse.hosts import LOOPBACK_NAMES, HostAllowlist, is_ip_literal
from kiosk.notices import Notices

NOTICES_PATH = "/api/notices"
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
       "script-src 'self'")


def screen_names(bind: str) -> tuple[str, ...]:
    """The host names the screen answers to (as kiosk/web create_app allows)."""
    extra = (bind,) if is_ip_literal(bind) and bind not in ("0.0.0.0", "::") else ()
    return LOOPBACK_NAMES + extra


def waiting_app(notices: Notices, gate_id: str) -> Flask:
    """The page shown until the gate runs: the notices say why (no bundle yet)."""
    app = Flask("kiosk.web")  # the package's templates and static files

    # 503 "starting": a browser shows the page all the same, and a client that reads the
    # screen's token or state (tests, the demo) sees that the gate is not there yet.
    @app.get("/")
    def page():
        return render_template("waiting.html", gate=gate_id), 503, {"Retry-After": "2"}

    @app.get("/api/state")
    def state():
        return jsonify({"mode": "waiting", "gate": {"id": gate_id}}), 503, {"Retry-After": "2"}

    @app.after_request
    def headers(resp):
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return app


class Front:
    """WSGI: `/api/notices`, else the current app (waiting page, then the gate's)."""

    def __init__(self, notices: Notices, gate_id: str, bind: str = "127.0.0.1"):
        self.notices = notices
        self.app = waiting_app(notices, gate_id)
        notices.phase = "waiting"
        self._wsgi = HostAllowlist(self._dispatch, screen_names(bind))

    def attach(self, app) -> None:
        """The gate runs: its app serves every page from now on."""
        self.app = app
        self.notices.phase = "running"

    def __call__(self, environ, start_response):
        return self._wsgi(environ, start_response)

    def _dispatch(self, environ, start_response):
        if environ.get("PATH_INFO") == NOTICES_PATH and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps(self.notices.to_json(), ensure_ascii=False).encode()
            start_response("200 OK", [("Content-Type", "application/json; charset=utf-8"),
                                      ("Content-Length", str(len(body))),
                                      ("Cache-Control", "no-store"),
                                      ("X-Content-Type-Options", "nosniff")])
            return [body]
        return self.app(environ, start_response)
