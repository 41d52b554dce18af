"""What every `district` command module shares: the --home option and loading it."""
from __future__ import annotations

import click

from district.home import DistrictHome
from gatehouse.cli_common import fail as click_fail

home_option = click.option("--home", "home", default=None, metavar="DIR",
                           help="The district home (default $GATEHOUSE_DISTRICT_HOME).")


def load_home(home: str | None, exists: bool = True) -> DistrictHome:
    """The home of --home (or the environment's); stops with a message if it is none."""
    try:
        h = DistrictHome.at(home)
    except ValueError as exc:
        click_fail(str(exc))
    if exists and not h.exists():
        click_fail(f"{h.root} is not a district home (run `district init` first)")
    return h
