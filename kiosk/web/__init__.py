"""The volunteer's screen at the gate (Chromium in kiosk mode on the Pi's touch screen).

create_app(gate, …) serves one page, a server-sent event stream of the screen's state
(kiosk/screen.py), the camera preview, the spoken prompts, and the volunteer's
actions, as blueprints (one module each): page, state, volunteer (sign-in), visitor,
entry (referrals, lane, by hand), courier, pickup. What every request goes through
(host names, CSRF, the signed-in volunteer) is kiosk/web/guards.py. Every action runs
on the gate loop's thread (gate.call) and is logged with the volunteer. No asset comes
from outside the Pi.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask, jsonify

from gatehouse.hosts import HostAllowlist
from kiosk.gate import Gate
from kiosk.web import courier, entry, guards, health, page, pickup, state, visitor, volunteer
from kiosk.web.front import screen_names

BLUEPRINTS = (page.bp, state.bp, volunteer.bp, visitor.bp, entry.bp, courier.bp, pickup.bp,
              health.bp)


def create_app(gate: Gate, link_state: Callable[[], object] = lambda: None,
               voice_dir: Path | None = None, token: str | None = None) -> Flask:
    """The screen's Flask app for `gate` (`token`: a fixed CSRF token, for tests)."""
    app = Flask(__name__)
    app.extensions[guards.EXTENSION] = guards.Screen(
        gate, link_state, voice_dir, token or secrets.token_urlsafe(24))
    # Only the Pi's own browser: loopback names (and the bound address, when a technician
    # serves the screen on the LAN). A rebound name never reaches a route.
    app.wsgi_app = HostAllowlist(app.wsgi_app, screen_names(gate.config.web_bind))
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 0
    app.before_request(guards.check_csrf)
    app.after_request(guards.secure_headers)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)

    @app.errorhandler(400)
    @app.errorhandler(401)
    @app.errorhandler(403)
    @app.errorhandler(404)
    def error(e):
        return jsonify({"ok": False, "reason": e.description}), e.code

    return app
