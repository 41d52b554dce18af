"""What the `hub` and `kiosk` commands share: the --home and --at options, JSON output."""
from __future__ import annotations

import json
import sys

import click

from gatehouse.home import ENV_HOME, Home
from gatehouse.timeutil import parse_at


def home_option(func):
    """--home DIR on every command (default $GATEHOUSE_HOME, else the user data folder)."""
    return click.option(
        "--home", "home", type=click.Path(file_okay=False), default=None,
        help=f"Folder with keys, config and databases (default ${ENV_HOME}).")(func)


def at_option(func):
    return click.option("--at", "at", default=None, metavar="ISO-TIME",
                        help="Act as if it were this time (compound time zone).")(func)


def resolve_home(home: str | None) -> Home:
    return Home.at(home)


def epoch(at: str | None, zone: str) -> int:
    try:
        return parse_at(at, zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


def print_json(doc) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=None)
    sys.stdout.write("\n")


def fail(message: str) -> None:
    """Stop with a clear message and exit status 1; no traceback for an expected error."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
