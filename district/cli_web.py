"""`district web` and `district user add` (owned by H-WEB; this is the empty stub the
command line imports until they land): `register` adds this module's commands to the
`district` group."""
from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the page's commands to `group`."""
