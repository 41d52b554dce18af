"""`hub gate enroll|retire|codes`, `hub broker tls|plain|bridge`, `hub backup|restore|migrate`:
putting a compound on real machines and keeping it there (docs/deploy.md)."""
from __future__ import annotations

import time
from pathlib import Path

import click
import segno

from gatehouse.cli_common import fail, home_option, print_json, resolve_home
from hub import backup as backups
from hub import broker, broker_listeners, enroll
from hub.cli_compound import open_compound as _open
from hub.cli_gates import broker_group, gate_group
from hub.compound import HubError
from hub.gates import retire_gate


@gate_group.command("enroll")
@home_option
@click.argument("gate_id")
@click.option("--hub-url", required=True, metavar="URL",
              help="The admin page as the gate reaches it, e.g. http://192.168.1.10:8080.")
@click.option("--name", default=None, help="What the office calls it, e.g. 北门.")
@click.option("--broker-host", default=None,
              help="Broker address as the gate sees it (default: the hub URL's host).")
@click.option("--minutes", type=click.IntRange(1, 24 * 60), default=enroll.DEFAULT_MINUTES,
              show_default=True, help="The code is valid this long, and once.")
@click.option("--png", type=click.Path(dir_okay=False), default=None,
              help="Also write the code as a QR image.")
@click.option("--terminal", is_flag=True, help="Also draw the QR in this terminal.")
def gate_enroll(home, gate_id, hub_url, name, broker_host, minutes, png, terminal) -> None:
    """Make a one-time enrollment code for a gate (`kiosk enroll` takes it)."""
    c = _open(home)
    try:
        code = enroll.create_code(c, gate_id, hub_url, int(time.time()), name=name,
                                  broker_host=broker_host, minutes=minutes)
    except HubError as exc:
        fail(str(exc))
    text = code.text()
    click.echo(text)
    qr = segno.make(text, error="m", boost_error=False)
    if png:
        qr.save(png, scale=8, border=4)
        click.echo(f"wrote {png}", err=True)
    if terminal:
        qr.terminal(compact=True)
    click.echo(f"valid {minutes} min, once; `hub web` must be running at {hub_url}",
               err=True)


@gate_group.command("retire")
@home_option
@click.argument("gate_id")
def gate_retire(home, gate_id) -> None:
    """Retire a gate: revoke its broker login; what it still sends is quarantined."""
    c = _open(home)
    try:
        told = retire_gate(c, gate_id, int(time.time()))
    except (HubError, OSError) as exc:
        fail(str(exc))
    click.echo(f"gate {gate_id} retired" + ("" if told else
               " (broker not running: takes effect when it starts)"))


@gate_group.command("codes")
@home_option
def gate_codes(home) -> None:
    """Enrollment codes made, newest first (used, expired, cancelled)."""
    for row in enroll.codes(_open(home)):
        print_json(row)


@broker_group.command("tls")
@home_option
@click.option("--host", "hosts", multiple=True, required=True,
              help="Name or address the gates use for the hub (repeatable).")
@click.option("--port", type=click.IntRange(1, 65535), default=8883, show_default=True)
@click.option("--bind", default="0.0.0.0", show_default=True)
def broker_tls(home, hosts, port, bind) -> None:
    """Add a TLS listener, with the hub as the compound's certificate authority."""
    files = broker.BrokerFiles.in_folder(resolve_home(home).hub_broker)
    if not files.conf.exists():
        fail("no broker config: run `hub broker config` first")
    snippet = broker.make_tls(files, list(hosts), port, bind)
    broker.reload(files)
    click.echo(f"TLS listener on {bind}:{port} ({snippet}); CA {files.ca_cert}. "
               "Restart the broker; gates enrolled from now on get the CA.")


@broker_group.command("plain")
@home_option
@click.option("--close", "action", flag_value="close",
              help="Close the plain port to the LAN (loopback only, for the hub itself).")
@click.option("--open", "action", flag_value="open", help="Open it to the LAN again.")
@click.option("--force", is_flag=True, help="Close even while gates still use it.")
def broker_plain(home, action, force) -> None:
    """The plain MQTT listener: which gates still use it; close it once none does."""
    c = _open(home)
    try:
        if action == "close":
            cut = broker_listeners.close_plain(c, force)
            if cut:
                click.echo("cut off until enrolled again: " + ", ".join(cut), err=True)
        elif action == "open":
            broker_listeners.open_plain(c)
        now = broker_listeners.listeners(broker.BrokerFiles.in_folder(c.home.hub_broker))
    except HubError as exc:
        fail(str(exc))
    print_json({"plain_port": now.plain_port, "plain_bind": now.plain_bind,
                "plain_closed": now.plain_closed, "tls_port": now.tls_port,
                "gates": broker_listeners.gate_transports(c)})
    if action:
        click.echo("restart the broker and the hub: sudo systemctl restart "
                   "gatehouse-broker gatehouse-hub", err=True)


@broker_group.command("bridge")
@home_option
@click.option("--compound-id", required=True, help="This compound's name at the district.")
@click.option("--district", required=True, metavar="HOST:PORT")
@click.option("--username", default=None, help="Login at the district (default: compound id).")
@click.option("--password", prompt=True, hide_input=True)
@click.option("--cafile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The district's CA, for a TLS bridge.")
def broker_bridge(home, compound_id, district, username, password, cafile) -> None:
    """Bridge this compound's broker to the district broker (restart the broker after)."""
    files = broker.BrokerFiles.in_folder(resolve_home(home).hub_broker)
    host, _, port = district.rpartition(":")
    if not host or not port.isdigit():
        fail("--district is HOST:PORT")
    try:
        path = broker.write_bridge(files, compound_id, host, int(port),
                                   username or compound_id, password,
                                   Path(cafile) if cafile else None)
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"bridge written to {path}; restart the broker to start it")


@click.command("backup")
@home_option
@click.option("--keep", type=click.IntRange(1, 10000), default=14, show_default=True,
              help="Keep this many backups in the folder, deleting older ones.")
@click.option("--to", "folder", type=click.Path(file_okay=False), default=None,
              help="Folder for the backup (default <home>/hub/backups).")
def backup_cmd(home, keep, folder) -> None:
    """Back up the hub database (online, checked); safe while the hub runs."""
    h = resolve_home(home)
    try:
        path = backups.backup(h.hub_db, Path(folder) if folder else h.hub / "backups", keep)
    except (HubError, OSError) as exc:
        fail(str(exc))
    click.echo(str(path))


@click.command("restore")
@home_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Even while a process holds the database.")
def restore_cmd(home, file, force) -> None:
    """Restore the hub database from a backup (checked first; stop the hub first)."""
    h = resolve_home(home)
    try:
        saved = backups.restore(h.hub_db, Path(file), h.hub / "backups", force)
    except (HubError, OSError) as exc:
        fail(str(exc))
    click.echo(f"restored {file}" + (f"; the previous database is {saved}" if saved else ""))


@click.command("migrate")
@home_option
@click.option("--no-backup", is_flag=True, help="Skip the backup taken first.")
def migrate_cmd(home, no_backup) -> None:
    """Bring the hub database to this version's schema (after an upgrade)."""
    h = resolve_home(home)
    if not h.hub_db.exists():
        fail(f"no database at {h.hub_db}")
    try:
        if not no_backup:
            click.echo(f"backup: {backups.backup(h.hub_db, h.hub / 'backups', prefix='pre-migrate-')}")
        done = backups.migrate(h.hub_db)
    except (HubError, OSError) as exc:
        fail(str(exc))
    click.echo("applied: " + (", ".join(done) if done else "nothing (already current)"))
