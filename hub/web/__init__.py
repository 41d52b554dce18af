"""The committee office's admin page: a Flask app built by `create_app(config)`.

Served by waitress (`hub web`); every page behind login, every change CSRF-checked
and written to the audit log. One blueprint per concern; docs/admin.md.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from gatehouse.envconfig import read_env
from gatehouse.hosts import LOOPBACK_NAMES, HostAllowlist, parse_names, this_machine_names
from gatehouse.home import Home, write_private
from hub import schema
from hub.retention import ENV_PREFIX, NightlyConfig
from hub.web import (
    admin,
    alerts_delivery,
    auth,
    buildings,
    enroll,
    groupbuy,
    health,
    notifications,
    overview,
    parcels,
    passes,
    policy,
    report,
    residents,
    tracing,
    visitors,
    wheels,
)



@dataclass(frozen=True)
class WebConfig:
    """Every setting of the admin page and its default."""

    home: Home
    cookie_secure: bool = True           # off only behind plain HTTP on a trusted LAN
    session_hours: int = 12
    # The nightly jobs' settings, shown here and run by `hub serve` (hub/retention.py).
    retention_days: int = NightlyConfig.retention_days
    purge_at: str = NightlyConfig.purge_at
    reset_at: str = NightlyConfig.reset_at
    reset_after_hours: float = NightlyConfig.reset_after_hours
    curfew: str = "22:00"                # "out past" list
    offline_after_s: float = 60.0        # no heartbeat for this long: offline
    sse_seconds: float = 300.0           # one event stream lasts this long, then reconnects
    sse_poll_s: float = 1.0
    # Names the office types for the hub besides localhost, this machine's host name
    # (and .local) and IP addresses: "hub.lan,office.example" (docs/security.md).
    hosts: str = ""
    clock: Callable[[], float] = field(default=time.time)
    secret_key: bytes | None = None

    def host_names(self) -> tuple[str, ...]:
        return LOOPBACK_NAMES + this_machine_names() + parse_names(self.hosts)

    @classmethod
    def from_env(cls, home: Home, **overrides) -> WebConfig:
        """Defaults, then GATEHOUSE_WEB_* environment variables, then `overrides`."""
        return cls(home=home, **read_env(cls, ENV_PREFIX, fixed=("home", "clock", "secret_key"),
                                         **overrides))


def secret_key(home: Home) -> bytes:
    """The session-signing key, made once and kept in the home (0600)."""
    path = home.hub / "web.secret"
    if not path.exists():
        write_private(path, secrets.token_bytes(32))
    return path.read_bytes()


def create_app(config: WebConfig) -> Flask:

    schema.open_db(config.home.hub_db).close()   # migrate once, before any request
    app = Flask(__name__)
    app.config.update(
        GATEHOUSE=config,
        SECRET_KEY=config.secret_key or secret_key(config.home),
        SESSION_COOKIE_NAME="gatehouse_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.cookie_secure,
        PERMANENT_SESSION_LIFETIME=config.session_hours * 3600,
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    auth.install(app)
    for bp in (auth.bp, overview.bp, buildings.bp, residents.bp, passes.bp, tracing.bp, policy.bp,
               visitors.bp, notifications.bp, groupbuy.bp, parcels.bp, admin.bp):
        app.register_blueprint(bp)
    app.register_blueprint(alerts_delivery.bp)   # where alerts go (issue 14)
    app.register_blueprint(report.bp)   # the daily report and the 7/30-day charts
    app.register_blueprint(enroll.bp)   # the gates' side: /enroll and the /wheels/ folder
    app.wsgi_app = enroll.mount(app.wsgi_app, config)
    app.wsgi_app = wheels.mount(app.wsgi_app, config)
    app.wsgi_app = health.mount(app.wsgi_app, config)   # /healthz, /metrics: no login
    # Outermost, so the gates' /enroll answers only to the hub's names too.
    app.wsgi_app = HostAllowlist(app.wsgi_app, config.host_names(), ip_literals=True)
    return app
