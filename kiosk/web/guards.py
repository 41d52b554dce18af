"""What every request to the volunteer's screen goes through, and what its routes act on.

- Host names: only the Pi's own (kiosk/web/front.py `screen_names`), checked in WSGI
  before Flask sees the request (create_app), so a rebound name never reaches a route.
- CSRF: every state-changing request carries the page's token (`X-CSRF-Token`) and, when
  the browser sends one, a same-origin `Origin` ("null" from a sandboxed frame too).
- Volunteer actions need a signed-in volunteer (`volunteer()`), who stays signed in
  while acting.
- `screen()`: the gate (its loop runs every action: `gate.call`), the hub link's state
  and the voice prompts, set once by create_app.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Response, abort, current_app, request

from gatehouse.bundle import Volunteer
from kiosk.gate import Gate

EXTENSION = "kiosk.screen"
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; "
       "style-src 'self'; script-src 'self'")


@dataclass(frozen=True)
class Screen:
    """What the screen's routes work with."""

    gate: Gate
    link_state: Callable[[], object]
    voice_dir: Path | None
    token: str   # the page's CSRF token (this process's: a restart makes a new one)


def screen() -> Screen:
    return current_app.extensions[EXTENSION]


def check_csrf() -> None:
    """Before every request: a state-changing one needs the token and our own origin."""
    if request.method in ("GET", "HEAD"):
        return
    if not secrets.compare_digest(request.headers.get("X-CSRF-Token", "").encode(),
                                  screen().token.encode()):   # bytes: any header, no 500
        abort(403, "missing or wrong CSRF token")
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        abort(403, "cross-origin request")   # "null" (a sandboxed frame) too


def secure_headers(resp: Response) -> Response:
    """After every request: no framing, no script or asset from anywhere else, no cache."""
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp


def body() -> dict:
    """The request's JSON object (400 otherwise)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "expected a JSON object")
    return data


def volunteer() -> Volunteer:
    """The signed-in volunteer (401 when nobody is), kept signed in by acting."""
    gate = screen().gate
    v = gate.desk.signed_in
    if v is None:
        abort(401, "sign in first")
    gate.desk.touch(time.time())
    return v
