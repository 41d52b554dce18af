"""`hub user add|passwd|list` and `hub web`: the admin page's users and its server."""
from __future__ import annotations

import logging
import time

import click

from gatehouse.cli_common import fail, home_option, print_json, resolve_home
from hub import audit, presence, retention, schema, store, users
from hub.compound import Compound, HubError
from hub.periodic import Periodic


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
    """Serve the admin page with waitress, with the nightly reset and purge jobs."""
    import waitress

    from hub.web import WebConfig, create_app
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    h = resolve_home(home)
    try:
        compound = Compound.open(h)
    except HubError as exc:
        fail(str(exc))
    if not users.list_users(compound.db):
        fail("no users yet: run `hub user add <name>` first")
    config = WebConfig.from_env(h, cookie_secure=cookie_secure,
                                hosts=",".join(hosts) if hosts else None)
    zone = store.current_policy(compound.db).zone
    compound.db.close()
    jobs = start_jobs(config, zone)
    click.echo(f"admin page on http://{bind}:{port}/", err=True)
    try:
        waitress.serve(create_app(config), host=bind, port=port, threads=threads,
                       ident="gatehouse", **proxy_options(trusted_proxy))
    finally:
        for job in jobs:
            job.stop()


def proxy_options(trusted_proxy: str | None) -> dict:
    """waitress settings for a reverse proxy in front (none: believe no forwarded header)."""
    if not trusted_proxy:
        return {}
    return {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-host",
                                      "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True}


def start_jobs(config, zone) -> list[Periodic]:
    """The nightly presence reset and retention purge, each recorded in the audit log."""

    def reset(now: float) -> None:
        db = schema.open_db(config.home.hub_db)
        done = presence.reset(db, now, config.reset_after_hours, "nightly-reset")
        audit.record(db, now, "nightly-reset", "system", "presence.reset",
                     f"{len(done)} people", None, {"people": [d["person_ref"] for d in done]})
        db.close()

    def purge(now: float) -> None:
        db = schema.open_db(config.home.hub_db)
        counts = retention.purge(db, now, config.retention_days)
        audit.record(db, now, "retention", "system", "retention.purge",
                     f"older than {config.retention_days} days", None, counts)
        db.close()

    return [retention.nightly("presence-reset", config.reset_at, zone, reset, config.clock).start(),
            retention.nightly("retention-purge", config.purge_at, zone, purge, config.clock).start()]
