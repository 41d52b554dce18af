"""/healthz and /metrics on the admin page's port, beside (not behind) its login.

The same answers as `hub serve`'s health server (hub/health.py) for this process: it is
up and the database reads; the broker link and the writer are `hub serve`'s, on its own
port. A probe or a scraper has no session, so these two paths never reach Flask's login;
the Host allowlist, outermost, still applies. /metrics answers loopback clients, or
others with the bearer token of `<home>/hub/metrics.token`.
"""
from __future__ import annotations

from hub.health import HealthApp, token_path

PATHS = ("/healthz", "/metrics")


def mount(wsgi_app, config):
    """Answer /healthz and /metrics before the admin page's app sees the request."""
    health = HealthApp(config.home.hub_db, None, token_path(config.home),
                       config.offline_after_s, config.clock)

    def app(environ, start_response):
        if environ.get("PATH_INFO") in PATHS:
            return health(environ, start_response)
        return wsgi_app(environ, start_response)
    return app
