"""`hub user …` and `hub volunteer …`: the people who sign in, at the admin page with a
password, at the gates with a PIN."""
from __future__ import annotations

import time

import click

from gatehouse.cli_common import at_option, fail, home_option, print_json
from hub import audit, users
from hub.cli_compound import at_time as _at, open_compound as _open
from hub.compound import HubError


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
    db = _open(home).db
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
    db = _open(home).db
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
    for row in users.list_users(_open(home).db):
        print_json(row)


@click.group("volunteer")
def volunteer_group() -> None:
    """Gate volunteers and their PINs (hashed; every gate gets them in the bundle)."""


@volunteer_group.command("add")
@home_option
@at_option
@click.option("--name", required=True)
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True,
              help="4-8 digits (asked for when not given).")
@click.option("--lead", is_flag=True, help="A volunteer lead (may switch lanes, etc.).")
def volunteer_add(home, at, name, pin, lead) -> None:
    """Add a volunteer who signs in at the kiosks with a PIN."""
    c = _open(home)
    try:
        vid = c.add_volunteer(name, pin, _at(c, at), "lead" if lead else "volunteer")
    except HubError as exc:
        fail(str(exc))
    click.echo(vid)


@volunteer_group.command("pin")
@home_option
@at_option
@click.argument("vid")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
def volunteer_pin(home, at, vid, pin) -> None:
    """Set a volunteer's new PIN."""
    c = _open(home)
    try:
        c.set_volunteer_pin(vid, pin, _at(c, at))
    except HubError as exc:
        fail(str(exc))
    click.echo(f"PIN of {vid} changed")


@volunteer_group.command("list")
@home_option
def volunteer_list(home) -> None:
    """Volunteers (masked names) and whether they are active."""
    c = _open(home)
    for r in c.db.query("select id, name, role, added_at, disabled_at from volunteers"):
        print_json(r)


@volunteer_group.command("disable")
@home_option
@at_option
@click.argument("vid")
def volunteer_disable(home, at, vid) -> None:
    """Stop a volunteer signing in at any gate (from the next bundle)."""
    c = _open(home)
    try:
        c.disable_volunteer(vid, _at(c, at))
    except HubError as exc:
        fail(str(exc))
    click.echo(f"{vid} disabled")
