"""The street office's page (district web): every compound at a glance, tracing across
compounds, orders, users and the audit log. A Flask app built by `create_app(config)`,
served by waitress (`district web`, district/app_web.py ... district/cli_web.py).

The hub's admin page's protections, the same way: a Host allowlist before any route
(421), login on every page but /login and /healthz, CSRF on every POST, security
headers, throttled sign-in, roles checked per permission, the audit log. docs/district.md
"The district page".
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, abort, request

from district.home import DistrictHome
from district.web import admin, auth, orders_page, overview, trace
from gatehouse.codes.keys import SigningKey
from gatehouse.home import write_private
from gatehouse.hosts import LOOPBACK_NAMES, HostAllowlist

BINDING_KEY_FILE = "binding.key"   # the issuers' binding key, copied here to trace by ID
SECRET_FILE = "web.secret"


@dataclass(frozen=True)
class WebConfig:
    """Every setting of the district's page and its default."""

    dsn: str
    district_id: str
    zone: str = "Asia/Shanghai"
    retention_days: int = 28
    hosts: tuple[str, ...] = ()          # names the page answers to besides loopback
    cookie_secure: bool = True           # off only behind plain HTTP on a trusted LAN
    session_hours: int = 12
    home: DistrictHome | None = None     # its keys: orders' signing, tracing's binding
    secret_key: bytes | None = None
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def from_home(cls, home: DistrictHome, **overrides) -> WebConfig:
        """From district.toml; `overrides` (None ones ignored) win."""
        cfg = home.config()
        doc = {"dsn": home.dsn(), "district_id": cfg.id, "zone": cfg.zone,
               "retention_days": cfg.retention_days, "hosts": tuple(cfg.web_hosts),
               "home": home}
        doc.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**doc)

    def host_names(self) -> tuple[str, ...]:
        return LOOPBACK_NAMES + tuple(n.lower().rstrip(".") for n in self.hosts)

    def signing_key(self) -> SigningKey:
        if self.home is None:
            raise ValueError("no district home: orders cannot be signed here")
        return self.home.key()

    def binding_key(self) -> bytes | None:
        """The binding key when the district holds a copy (tracing by ID number)."""
        path = self.home.root / BINDING_KEY_FILE if self.home else None
        return path.read_bytes() if path is not None and path.exists() else None

    def session_secret(self) -> bytes:
        if self.secret_key:
            return self.secret_key
        if self.home is None:
            raise ValueError("no district home and no secret key")
        path: Path = self.home.root / SECRET_FILE
        if not path.exists():
            write_private(path, secrets.token_bytes(32))
        return path.read_bytes()


def _healthz(app):
    """/healthz without login: the process answers (a probe, no data)."""
    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"),
                                      ("Cache-Control", "no-store")])
            return [b"ok\n"]
        return app(environ, start_response)
    return wsgi


def _no_nul() -> None:
    """PostgreSQL's text holds no NUL: a value with one was a 500 on every page that
    queries, the sign-in form too, for anyone (docs/security.md D5). No real input has
    one, so it is a 400 before any route."""
    if "\x00" in request.path or any("\x00" in k or "\x00" in v
                                     for values in (request.args, request.form)
                                     for k, vs in values.lists() for v in vs):
        abort(400, "a NUL character in the request")


def create_app(config: WebConfig) -> Flask:
    app = Flask(__name__)
    app.config.update(
        DISTRICT=config,
        SECRET_KEY=config.session_secret(),
        SESSION_COOKIE_NAME="district_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.cookie_secure,
        PERMANENT_SESSION_LIFETIME=config.session_hours * 3600,
        MAX_CONTENT_LENGTH=1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.before_request(_no_nul)     # first: before sign-in writes its try
    auth.install(app)
    for bp in (auth.bp, overview.bp, trace.bp, orders_page.bp, admin.bp):
        app.register_blueprint(bp)
    app.wsgi_app = _healthz(app.wsgi_app)
    # Outermost: a rebound name gets 421 before anything else answers, /healthz too.
    # No IP literals: the district is reached by its names (docs/district.md).
    app.wsgi_app = HostAllowlist(app.wsgi_app, config.host_names())
    return app
