"""What every office page of the project (the hub's admin page, the district's page) does
to each request and answer: the CSRF token of the session, and the security headers."""
from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping

from flask import abort

CSRF_KEY = "csrf"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'")


def csrf_token(session: MutableMapping) -> str:
    """The session's token, made on first use."""
    if CSRF_KEY not in session:
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return session[CSRF_KEY]


def csrf_matches(sent: str | None, session: MutableMapping) -> bool:
    """Compared as bytes: a non-ASCII token is a refusal, not a crash (S10)."""
    return bool(sent) and hmac.compare_digest(str(sent).encode(),
                                              str(session.get(CSRF_KEY, "")).encode())


def refuse_without_csrf(request, session: MutableMapping) -> None:
    """A 400 for a change whose form field `csrf` (or header X-CSRF-Token) is not the
    session's token."""
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    if not csrf_matches(sent, session):
        abort(400, "CSRF 校验失败，请刷新页面后重试 / missing or wrong CSRF token")


def secure_headers(resp, no_store: bool):
    """No framing, no sniffing, no referrer to other sites, no inline script; `no_store`
    for what holds personal data (pages, downloads)."""
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    if no_store:
        resp.headers["Cache-Control"] = "no-store"
    return resp
