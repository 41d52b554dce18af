"""`district web` (the street office's page) and `district user add|disable|list`: thin
commands over district/web/serve.py and district/web/accounts.py."""
from __future__ import annotations

import time

import click

from district.db import connect
from district.home import DistrictHome
from district.web import accounts
from district.web.serve import run
from gatehouse.cli_common import fail, print_json

home_option = click.option("--home", "home", default=None, metavar="DIR",
                           help="The district home (default $GATEHOUSE_DISTRICT_HOME).")


def _home(home: str | None) -> DistrictHome:
    try:
        h = DistrictHome.at(home)
    except ValueError as exc:
        fail(str(exc))
    if not h.exists():
        fail(f"{h.root} is not a district home (run `district init` first)")
    return h


@click.command("web")
@home_option
@click.option("--port", default=8090, show_default=True)
@click.option("--bind", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="A name the page answers to, besides localhost and district.toml's "
                   "web_hosts (repeatable); any other Host header gets 421.")
@click.option("--threads", default=16, show_default=True)
@click.option("--trusted-proxy", default=None, metavar="ADDR",
              help="A reverse proxy whose X-Forwarded-* headers are believed.")
@click.option("--no-cookie-secure", is_flag=True,
              help="Send the session cookie over plain HTTP (a trusted LAN only).")
def web_cmd(home, port, bind, hosts, threads, trusted_proxy, no_cookie_secure) -> None:
    """Serve the district's page (overview, tracing, orders, audit) under waitress."""
    try:
        run(_home(home), port, bind, threads, tuple(hosts), not no_cookie_secure,
            trusted_proxy)
    except ValueError as exc:
        fail(str(exc))


user_group = click.Group("user", help="Who signs in to the district's page.")


@user_group.command("add")
@home_option
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in accounts.Role]),
              default="observer", show_default=True,
              help="admin: the street office; observer: the health authority.")
@click.password_option(help="At least 10 characters (asked when not given).")
def user_add(home, username, role, password) -> None:
    """Add a user of the district's page."""
    with connect(_home(home).dsn(), dicts=True) as conn:
        try:
            accounts.add_user(conn, username, password, role, time.time())
        except accounts.UserError as exc:
            fail(str(exc))
    click.echo(f"added {username} ({role})")


@user_group.command("disable")
@home_option
@click.argument("username")
def user_disable(home, username) -> None:
    """Disable a user: no more sign-ins, every session ends."""
    with connect(_home(home).dsn(), dicts=True) as conn:
        try:
            accounts.disable_user(conn, username, time.time())
        except accounts.UserError as exc:
            fail(str(exc))
    click.echo(f"disabled {username}")


@user_group.command("list")
@home_option
def user_list(home) -> None:
    """Every user with role and dates, as JSON."""
    with connect(_home(home).dsn(), dicts=True) as conn:
        print_json([{k: (v.isoformat() if hasattr(v, "isoformat") else v)
                     for k, v in u.items()} for u in accounts.list_users(conn)])


def register(group: click.Group) -> None:
    """Add the page's commands to `group` (district/cli.py calls this)."""
    group.add_command(web_cmd)
    group.add_command(user_group)
