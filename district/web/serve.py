"""`district web`'s composition root: the street office's page under waitress, with the
hub's page's settings (gatehouse/web_serve.py).

It serves requests only; the store, the workers and the order sender are `district run`'s.
The CLI (`district web`, district/cli_web.py) parses its options and calls `run`.
"""
from __future__ import annotations

from collections.abc import Callable

from district.db import connect
from district.home import DistrictHome
from district.web import WebConfig, create_app
from gatehouse import web_serve


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
    web_serve.serve(create_app(config), bind, port, threads, "gatehouse-district",
                    trusted_proxy)
