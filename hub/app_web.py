"""`hub web`'s composition root: the admin page (hub/web) served by waitress, with the
district page's settings (gatehouse/web_serve.py).

It serves requests only: the nightly jobs run in `hub serve` (hub/app_serve.py), so they
run once however many admin pages are started. The CLI (`hub web`) parses its options
and calls `run`.
"""
from __future__ import annotations

import os
from collections.abc import Callable

from gatehouse import web_serve
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
    web_serve.serve(create_app(config), bind, port, threads, "gatehouse", trusted_proxy)
