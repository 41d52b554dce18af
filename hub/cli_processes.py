"""`hub serve` and `hub web`: the hub's two long-running processes, each built and run
by its composition root (hub/app_serve.py, hub/app_web.py)."""
from __future__ import annotations

import logging

import click

from gatehouse.cli_common import fail, home_option, resolve_home
from hub import app_serve, app_web
from hub.compound import HubError


@click.command("serve")
@home_option
def serve(home) -> None:
    """Run the hub: ingest gate events, publish bundles, the time beacon and the shelf
    manifest; run the parcel timers, send notifications and run the nightly reset and
    purge jobs."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        app_serve.run(resolve_home(home), say=lambda m: click.echo(m, err=True))
    except HubError as exc:
        fail(str(exc))


@click.command("web")
@home_option
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--bind", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for the office LAN).")
@click.option("--threads", type=click.IntRange(2, 64), default=16, show_default=True)
@click.option("--cookie-secure/--no-cookie-secure", default=None,
              help="Secure session cookie (default on; off only for plain HTTP on a LAN).")
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="A name the office uses for this hub (repeatable); localhost, this "
                   "machine's name and IP addresses are always answered.")
@click.option("--trusted-proxy", metavar="ADDR",
              help="The reverse proxy in front (e.g. 127.0.0.1): its X-Forwarded-For and "
                   "-Host are believed, so login limits and host names see the browser.")
def web_cmd(home, port, bind, threads, cookie_secure, hosts, trusted_proxy) -> None:
    """Serve the admin page with waitress (the nightly jobs run in `hub serve`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        app_web.run(resolve_home(home), port, bind, threads, cookie_secure, hosts,
                    trusted_proxy, say=lambda m: click.echo(m, err=True))
    except HubError as exc:
        fail(str(exc))
