"""What every `hub` command starts with: the compound of `--home`, and `--at` read in
its zone. A compound that cannot be opened ends the command with its reason."""
from __future__ import annotations

from gatehouse.cli_common import epoch, fail, resolve_home
from gatehouse.timeutil import DEFAULT_ZONE
from hub import policy_versions
from hub.compound import Compound, HubError


def open_compound(home: str | None) -> Compound:
    try:
        return Compound.open(resolve_home(home))
    except HubError as exc:
        fail(str(exc))


def at_time(compound: Compound | None, at: str | None) -> int:
    """`--at` (or now) as a timestamp, in the compound's zone."""
    zone = policy_versions.current_policy(compound.db).timezone if compound else DEFAULT_ZONE
    return epoch(at, zone)
