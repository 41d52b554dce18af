"""`hub web`'s composition root: the admin page (hub/web) served by waitress.

It serves requests only: the nightly jobs run in `hub serve` (hub/app_serve.py), so they
run once however many admin pages are started. The CLI (`hub web`) parses its options
and calls `run`.
"""
from __future__ import annotations

import os
from collections.abc import Callable

import waitress

from gatehouse.home import Home
from hub import health, users
from hub.compound import Compound, HubError
from hub.web import WebConfig, create_app


def run(home: Home, port: int, bind: str = "127.0.0.1", threads: int = 16,
        cookie_secure: bool | None = None, hosts: tuple[str, ...] = (),
        trusted_proxy: str | None = None, say: Callable[[str], None] = print) -> None:
    """Serve the admin page until stopped. Raises HubError when it cannot start."""
    compound = Compound.open(home)
    if not users.list_users(compound.db):
        raise HubError("no users yet: run `hub user add <name>` first")
    compound.db.close()
    config = WebConfig.from_env(home, cookie_secure=cookie_secure,
                                hosts=",".join(hosts) if hosts else None)
    say(f"admin page on http://{bind}:{port}/")
    # /healthz and /metrics on a thread and port of their own: a probe is answered even
    # when every page thread is busy (docs/admin.md "Health and metrics").
    health_port = int(os.environ.get("GATEHOUSE_WEB_HEALTH_PORT", "8082"))
    if health_port:
        try:
            health.HealthServer(health.HealthApp(home.hub_db, None, health.token_path(home),
                                                 config.offline_after_s), "127.0.0.1",
                                health_port).start()
        except OSError as exc:   # a port in use costs the probe, never the page
            say(f"health server off: port {health_port}: {exc.strerror}")
    # Half-sent requests (slowloris) once filled waitress's 100 connections and kept the
    # office out: idle ones now go after 30 s and there is room for more. A LAN with
    # hostile machines still wants a proxy with per-client limits (docs/security.md).
    waitress.serve(create_app(config), host=bind, port=port, threads=threads,
                   ident="gatehouse", channel_timeout=30, connection_limit=1000,
                   **proxy_options(trusted_proxy))


def proxy_options(trusted_proxy: str | None) -> dict:
    """waitress settings for a reverse proxy in front (none: believe no forwarded header)."""
    if not trusted_proxy:
        return {}
    return {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-host",
                                      "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True}
