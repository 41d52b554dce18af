"""The `hub` command: the committee office's tools. Each command calls one library function."""
from __future__ import annotations

import json
from pathlib import Path

import click
import segno

from gatehouse.bundle import unseal
from gatehouse.cli_common import (
    at_option,
    epoch,
    fail,
    home_option,
    print_json,
    resolve_home,
)
from gatehouse.codes.kinds import Colour, Vaccination, VenueKind
from gatehouse.policy.diff import diff
from gatehouse.policy.model import BuildingStatus, Policy
from gatehouse.timeutil import DEFAULT_ZONE
from hub import policy_versions
from hub.authority import TestAuthority
from hub.cli_compound import at_time as _at, open_compound as _open
from hub.cli_deploy import (  # + gate enroll|retire, broker tls|bridge
    backup_cmd,
    migrate_cmd,
    restore_cmd,
)
from hub.cli_district import district_group
from hub.cli_gates import broker_group, gate_group
from hub.cli_notify import notify_group
from hub.cli_parcels import parcels_group, shelf_group
from hub.cli_processes import serve, web_cmd
from hub.cli_users import user_group, volunteer_group
from hub.compound import Compound, HubError
from hub.wheelhouse import wheelhouse_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Gatehouse hub: the residents' committee office."""


def _emit(text: str, png: str | None) -> None:
    """Print a code; with --png also write it as a QR image (ECC M, as gates expect)."""
    click.echo(text)
    if png:
        segno.make(text, error="m", boost_error=False).save(png, scale=8, border=4)
        click.echo(f"wrote {png}", err=True)


png_option = click.option("--png", type=click.Path(dir_okay=False), default=None,
                          help="Also write the QR code to this PNG file.")


@main.command("init")
@home_option
@at_option
@click.option("--name", default="示范小区", show_default=True, help="The compound's name.")
@click.option("--timezone", default=DEFAULT_ZONE, show_default=True)
@click.option("--binding-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Import the person-binding key shared with the health authority.")
def init_cmd(home, at, name, timezone, binding_key) -> None:
    """Create a compound: signing key, database, first policy and bundle."""
    h = resolve_home(home)
    try:
        Compound.create(h, name, epoch(at, timezone), timezone,
                        Path(binding_key) if binding_key else None)
    except (HubError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"compound {name!r} created in {h.root}")


# Issuing --------------------------------------------------------------------

@main.group("issue")
def issue() -> None:
    """Issue passes, venue codes and courier badges (prints the code)."""


@issue.command("pass")
@home_option
@at_option
@png_option
@click.option("--person-id", required=True, help="ID number; only a keyed hash is kept.")
@click.option("--name", required=True)
@click.option("--building", required=True)
@click.option("--unit", default=None)
@click.option("--room", required=True)
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Valid for (365).")
def issue_pass(home, at, png, person_id, name, building, unit, room, days) -> None:
    """A resident's compound pass, bound to person and household (the room)."""
    c = _open(home)
    try:
        _emit(c.issue_pass(person_id, name, building, room, _at(c, at), unit, days), png)
    except HubError as exc:
        fail(str(exc))


@issue.command("venue")
@home_option
@at_option
@png_option
@click.option("--place", required=True, help="Place id, e.g. gate-north, b7, parcels.")
@click.option("--kind", type=click.Choice([k.name.lower() for k in VenueKind]), required=True)
@click.option("--name", default=None)
def issue_venue(home, at, png, place, kind, name) -> None:
    """A venue code for a gate, a building entrance or the parcel area."""
    c = _open(home)
    try:
        _emit(c.issue_venue(place, VenueKind[kind.upper()], _at(c, at), name), png)
    except HubError as exc:
        fail(str(exc))


@issue.command("courier")
@home_option
@at_option
@png_option
@click.option("--name", required=True)
@click.option("--company", required=True)
@click.option("--days", type=click.IntRange(1, 366), default=None, help="Valid for (30).")
def issue_courier(home, at, png, name, company, days) -> None:
    """A courier's badge."""
    c = _open(home)
    try:
        _emit(c.issue_courier(name, company, _at(c, at), days), png)
    except HubError as exc:
        fail(str(exc))


@main.command("revoke")
@home_option
@at_option
@click.argument("code_id")
@click.option("--note", default="")
def revoke_cmd(home, at, code_id, note) -> None:
    """Revoke a pass or badge by its id (gates refuse it from the next bundle)."""
    c = _open(home)
    try:
        c.revoke(code_id, _at(c, at), note)
    except HubError as exc:
        fail(str(exc))
    click.echo(f"revoked {code_id}")


@main.command("codes")
@home_option
def codes_cmd(home) -> None:
    """List issued passes, venue codes and badges as JSON lines (names masked)."""
    c = _open(home)
    for row in c.db.query("select * from issued_codes order by issued_at"):
        print_json({k: v for k, v in row.items() if v is not None})


# The test authority ---------------------------------------------------------

@main.group("authority")
def authority() -> None:
    """A stand-in health authority for the demo and tests."""


@authority.command("init")
@home_option
@at_option
def authority_init(home, at) -> None:
    """Create a test authority in the home and make the hub trust it."""
    h = resolve_home(home)
    c = _open(home)
    try:
        a = TestAuthority.create(h)
    except HubError as exc:
        fail(str(exc))
    c.trust(a.trusted_key(), _at(c, at))
    click.echo(f"test authority created; gates trust key {a.key.kid.hex()}")


def _authority(home) -> TestAuthority:
    try:
        return TestAuthority.open(resolve_home(home))
    except HubError as exc:
        fail(str(exc))


@authority.command("health")
@home_option
@at_option
@png_option
@click.option("--person-id", required=True)
@click.option("--colour", "--color", "colour",
              type=click.Choice(["green", "yellow", "red"]), required=True)
@click.option("--tested-at", default=None, metavar="ISO-TIME",
              help="Sampling time of the last negative test.")
@click.option("--vaccination", type=click.Choice([v.name.lower() for v in Vaccination]),
              default="primary", show_default=True)
@click.option("--doses", type=click.IntRange(0, 10), default=2, show_default=True)
@click.option("--name", default=None)
@click.option("--hours", type=click.IntRange(1, 24 * 30), default=24, show_default=True)
def authority_health(home, at, png, person_id, colour, tested_at, vaccination, doses,
                     name, hours) -> None:
    """Mint a health code."""
    a = _authority(home)
    c = _open(home)
    zone = policy_versions.current_policy(c.db).timezone
    try:
        text = a.health(person_id, Colour[colour.upper()], epoch(at, zone),
                        epoch(tested_at, zone) if tested_at else None,
                        Vaccination[vaccination.upper()], doses, name, hours)
    except (HubError, ValueError) as exc:
        fail(str(exc))
    _emit(text, png)


@authority.command("itinerary")
@home_option
@at_option
@png_option
@click.option("--person-id", required=True)
@click.option("--places", required=True, help='Comma-separated, e.g. "上海,苏州".')
@click.option("--star", is_flag=True, help="One of the places had a risk area.")
@click.option("--hours", type=click.IntRange(1, 24 * 30), default=24, show_default=True)
def authority_itinerary(home, at, png, person_id, places, star, hours) -> None:
    """Mint an itinerary code."""
    a = _authority(home)
    c = _open(home)
    places_list = [p.strip() for p in places.replace("，", ",").split(",") if p.strip()]
    try:
        text = a.itinerary(person_id, places_list, star, _at(c, at), hours)
    except HubError as exc:
        fail(str(exc))
    _emit(text, png)


# Buildings ------------------------------------------------------------------

@main.group("building")
def building() -> None:
    """Building status: normal, precaution 防范, controlled 管控, sealed 封控."""


@building.command("set")
@home_option
@at_option
@click.argument("building_id")
@click.argument("status", type=click.Choice([s.value for s in BuildingStatus]))
@click.option("--note", default="")
def building_set(home, at, building_id, status, note) -> None:
    """Set a building's status; every gate gets it with the next bundle."""
    c = _open(home)
    changed = c.set_building(building_id, BuildingStatus(status), _at(c, at), "cli", note)
    click.echo(f"building {building_id}: {status}" + ("" if changed else " (unchanged)"))


@building.command("list")
@home_option
def building_list(home) -> None:
    """Buildings whose status is not normal, and when it changed."""
    c = _open(home)
    for row in c.db.query("select * from buildings order by id"):
        print_json(row)


# Policy ---------------------------------------------------------------------

@main.group("policy")
def policy() -> None:
    """Show, change and compare the gate policy."""


@policy.command("show")
@home_option
@click.option("--version", "version", type=int, default=None)
def policy_show(home, version) -> None:
    """Print a policy version (default: current) as JSON."""
    c = _open(home)
    p = (policy_versions.policy_version(c.db, version) if version
         else policy_versions.current_policy(c.db))
    if p is None:
        fail(f"no policy version {version}")
    click.echo(json.dumps(p.to_json(), ensure_ascii=False, indent=2))


@policy.command("set")
@home_option
@at_option
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--note", default="")
def policy_set(home, at, file, note) -> None:
    """Validate a policy JSON file and make it the next version."""
    c = _open(home)
    try:
        doc = json.load(file)
        new = Policy.from_json({**doc, "version": 1})
    except (json.JSONDecodeError, ValueError) as exc:
        fail(f"{file.name}: {exc}")
    old = policy_versions.current_policy(c.db)
    saved = c.set_policy(new, _at(c, at), "cli", note)
    click.echo(f"policy version {saved.version} saved")
    for change in diff(old, saved):
        click.echo(f"  {change}")


@policy.command("diff")
@home_option
@click.argument("old", type=int, required=False)
@click.argument("new", type=int, required=False)
def policy_diff(home, old, new) -> None:
    """What changed between two versions (default: the last two)."""
    c = _open(home)
    latest = policy_versions.current_policy(c.db).version
    new = new or latest
    old = old or new - 1
    a, b = policy_versions.policy_version(c.db, old), policy_versions.policy_version(c.db, new)
    if a is None or b is None:
        fail(f"policy versions run from 1 to {latest}")
    changes = diff(a, b)
    click.echo(f"policy {old} -> {new}: {len(changes)} change(s)")
    for change in changes:
        click.echo(f"  {change}")


@main.command("bundle")
@home_option
def bundle_cmd(home) -> None:
    """Print the current signed bundle (as verified) as JSON."""
    c = _open(home)
    print_json(unseal(c.home.hub_bundle.read_bytes(), c.hub_trusted_key()).to_json())


main.add_command(broker_group)
main.add_command(gate_group)
main.add_command(serve)
main.add_command(shelf_group)
main.add_command(parcels_group)
main.add_command(user_group)
main.add_command(volunteer_group)
main.add_command(web_cmd)
main.add_command(backup_cmd)
main.add_command(restore_cmd)
main.add_command(migrate_cmd)
main.add_command(notify_group)
main.add_command(wheelhouse_group)
main.add_command(district_group)

if __name__ == "__main__":
    main()
