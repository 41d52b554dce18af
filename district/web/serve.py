"""`district web`'s composition root: the street office's page under waitress.

It serves requests only; the store, the workers and the order sender are `district run`'s.
The CLI (`district web`, district/cli_web.py) parses its options and calls `run`.
"""
from __future__ import annotations

from collections.abc import Callable

import waitress

from district.db import connect
from district.home import DistrictHome
from district.web import WebConfig, create_app


def run(home: DistrictHome, port: int, bind: str = "127.0.0.1", threads: int = 16,
        hosts: tuple[str, ...] = (), cookie_secure: bool = True,
        trusted_proxy: str | None = None, say: Callable[[str], None] = print) -> None:
    """Serve the page until stopped. ValueError when it cannot start."""
    base = WebConfig.from_home(home)
    config = WebConfig.from_home(home, hosts=base.hosts + tuple(hosts),
                                 cookie_secure=cookie_secure)
    with connect(config.dsn) as conn:
        if not conn.execute("select count(*) from users").fetchone()[0]:
            raise ValueError("no users yet: run `district user add NAME` first")
    say(f"district page on http://{bind}:{port}/ for {', '.join(config.host_names())}")
    # As the hub's page (hub/app_web.py): idle connections go after 30 s and 1,000 may
    # wait, so half-sent requests cannot keep the office out (S4).
    waitress.serve(create_app(config), host=bind, port=port, threads=threads,
                   ident="gatehouse-district", channel_timeout=30, connection_limit=1000,
                   **_proxy(trusted_proxy))


def _proxy(trusted_proxy: str | None) -> dict:
    """waitress settings for a reverse proxy in front (none: believe no forwarded header)."""
    if not trusted_proxy:
        return {}
    return {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-host",
                                      "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True}
