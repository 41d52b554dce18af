"""`hub user add|passwd|list` and `hub web` (its process is hub/app_web.py): the admin
page's users and its server."""
from __future__ import annotations

import logging
import time

import click

from gatehouse.cli_common import fail, home_option, print_json, resolve_home
from hub import app_web, audit, users
from hub.compound import Compound, HubError


def _db(home):
    try:
        return Compound.open(resolve_home(home)).db
    except HubError as exc:
        fail(str(exc))


@click.group("user")
def user_group() -> None:
    """People who sign in to the admin page (hub web)."""


@user_group.command("add")
@home_option
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in users.Role]), default="admin",
              show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters (asked for when not given).")
def user_add(home, username, role, password) -> None:
    """Add a user of the admin page (the first one is usually an admin)."""
    db = _db(home)
    try:
        users.add_user(db, username, password, role, int(time.time()))
    except users.UserError as exc:
        fail(str(exc))
    audit.record(db, time.time(), "cli", "admin", "user.add", username, None, {"role": role})
    click.echo(f"user {username} added ({role})")


@user_group.command("passwd")
@home_option
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def user_passwd(home, username, password) -> None:
    """Set a user's password (their sessions end)."""
    db = _db(home)
    try:
        users.set_password(db, username, password)
    except users.UserError as exc:
        fail(str(exc))
    audit.record(db, time.time(), "cli", "admin", "user.password", username)
    click.echo(f"password of {username} changed")


@user_group.command("list")
@home_option
def user_list(home) -> None:
    """Users and their roles, as JSON lines."""
    for row in users.list_users(_db(home)):
        print_json(row)


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
