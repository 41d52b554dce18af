"""`hub broker …` and `hub gate …`: the compound's broker and its gates."""
from __future__ import annotations

import json
import os
import sys
import time

import click

from gatehouse.cli_common import fail, home_option, print_json, resolve_home
from gatehouse.home import Home
from hub import broker, features, policy_versions
from hub.cli_compound import open_compound as _open
from hub.compound import HubError
from hub.gates import ROLES, add_gate, set_role, setup_broker
from hub.ingest import gaps, reapply


@click.group("broker")
def broker_group() -> None:
    """The compound's Mosquitto broker."""


@broker_group.command("config")
@home_option
@click.option("--port", type=click.IntRange(1, 65535), default=1883, show_default=True)
@click.option("--bind", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for the gates on the LAN).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the hub and gates use to reach the broker.")
def broker_config(home, port, bind, host) -> None:
    """Write mosquitto.conf, ACL and passwords into the home; give the hub its login."""
    c = _open(home)
    files = setup_broker(c.home, port, bind, host)
    click.echo(f"broker config in {files.conf.parent}; start it with: "
               f"mosquitto -c {files.conf}")


@broker_group.command("run")
@home_option
def broker_run(home) -> None:
    """Run Mosquitto in the foreground with the compound's config."""
    files = broker.BrokerFiles.in_folder(resolve_home(home).hub_broker)
    if not files.conf.exists():
        fail("no broker config: run `hub broker config` first")
    os.execvp("mosquitto", ["mosquitto", "-c", str(files.conf)])


@click.group("gate")
def gate_group() -> None:
    """Gates: register them, see how they are."""


@gate_group.command("add")
@home_option
@click.argument("gate_id")
@click.option("--name", default=None, help="What the office calls it, e.g. 北门.")
@click.option("--kiosk-home", type=click.Path(file_okay=False), default=None,
              help="Write the gate's credentials and the hub key into this kiosk home.")
@click.option("--host", default=None, help="Broker address as the gate sees it.")
@click.option("--role", type=click.Choice(ROLES), default="gate", show_default=True,
              help="parcels: the pickup kiosk at the shelves (may read the shelf manifest).")
def gate_add(home, gate_id, name, kiosk_home, host, role) -> None:
    """Register a gate and give it a broker password (printed, or written to --kiosk-home)."""
    c = _open(home)
    try:
        ep = add_gate(c, gate_id, name, Home.at(kiosk_home) if kiosk_home else None, host,
                      role)
    except (HubError, OSError) as exc:
        fail(str(exc))
    if kiosk_home:
        click.echo(f"gate {gate_id} registered; credentials written to {kiosk_home}")
    else:
        print_json(ep.to_json())


@gate_group.command("role")
@home_option
@click.argument("gate_id")
@click.argument("role", type=click.Choice(ROLES))
def gate_role(home, gate_id, role) -> None:
    """Make a gate the parcel area's pickup kiosk (parcels) or an entrance (gate); only
    a parcels kiosk may read the shelf manifest (the broker is told at once)."""
    try:
        set_role(_open(home), gate_id, role)
    except HubError as exc:
        fail(str(exc))
    click.echo(f"gate {gate_id}: {role}")


@gate_group.command("list")
@home_option
def gate_list(home) -> None:
    """Every gate: online, last heartbeat, backlog, bundle version, TLS, gaps in its
    sequence."""
    c = _open(home)
    for row in c.db.query("select * from gates order by id"):
        beat = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
        print_json({"gate": row["id"], "name": row["name"], "online": bool(row["online"]),
                    "retired": row["retired_at"] is not None,
                    "heartbeat_at": row["heartbeat_at"], "outbox": beat.get("outbox"),
                    "bundle_version": beat.get("bundle_version"),
                    "clock_trusted": beat.get("clock_trusted"), "fps": beat.get("fps"),
                    "tls": beat.get("tls"),   # None: a gate too old to say
                    "gaps": gaps(c.db, row["id"])})


@gate_group.command("reapply")
@home_option
def gate_reapply(home) -> None:
    """Apply again the gate events whose effects failed at ingest (their alerts say
    event_not_applied), e.g. after an upgrade that fixes the cause."""
    c = _open(home)
    applied, failing = reapply(c.db, policy_versions.current_policy(c.db),
                               features.event_handlers(), time.time())
    print_json({"applied": applied, "still_failing": failing})
    if failing:
        sys.exit(1)
