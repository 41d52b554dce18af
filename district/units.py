"""`district units`: the district's systemd units (district/systemd/*), for one machine,
with their @NAME@ placeholders filled as deploy/render_units.py fills the hub's.

They live in the package, not in deploy/: deploy/ is what the compounds' installers
install (and what keys the VM test's cache); a district machine has no gates.
"""
from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

import click

UNITS = ("gatehouse-district.service", "gatehouse-district-web.service")


def defaults() -> dict[str, str]:
    """What an office that installed the project in /opt/gatehouse gets."""
    return {"APP": "/opt/gatehouse", "VENV": str(Path(sys.prefix)),
            "HOME": "/var/lib/gatehouse-district", "USER": "gatehouse-district",
            "WEB_BIND": "0.0.0.0", "WEB_PORT": "8090"}


def render(text: str, values: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"no value for @{m.group(1)}@")
        return values[m.group(1)]
    return re.sub(r"@([A-Z_]+)@", sub, text)


def unit_text(name: str) -> str:
    return resources.files("district").joinpath("systemd", name).read_text()


@click.command("units")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Where to write them (/etc/systemd/system).")
@click.option("--home", "home", default=None, metavar="DIR",
              help="The district home (default /var/lib/gatehouse-district).")
@click.option("--user", default=None, help="The system user it runs as, owner of the home "
              "(default gatehouse-district; never root: PostgreSQL refuses it).")
@click.option("--app", default=None, help="The project's folder, for docs/ and "
              "deploy/watchdog.py (default /opt/gatehouse).")
@click.option("--venv", default=None, help="The virtual environment (default this one).")
@click.option("--web-bind", default=None, help="The page's address (default 0.0.0.0).")
@click.option("--web-port", default=None, type=int, help="The page's port (default 8090).")
def units_cmd(out, home, user, app, venv, web_bind, web_port) -> None:
    """Write the systemd units of a one-machine district (`district run`, `district web`)."""
    values = defaults()
    given = {"HOME": home, "USER": user, "APP": app, "VENV": venv, "WEB_BIND": web_bind,
             "WEB_PORT": None if web_port is None else str(web_port)}
    values.update({k: str(v) for k, v in given.items() if v is not None})
    if values["USER"] == "root":
        raise click.UsageError("not as root: PostgreSQL refuses to run as root")
    Path(out).mkdir(parents=True, exist_ok=True)
    for name in UNITS:
        path = Path(out) / name
        path.write_text(render(unit_text(name), values))
        click.echo(path)
