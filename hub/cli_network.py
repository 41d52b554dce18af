"""`hub broker …`, `hub gate …` and `hub serve`: the compound's network side."""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading

import click

from gatehouse.cli_common import fail, home_option, print_json, resolve_home
from gatehouse.home import Home
from hub import broker, notify
from hub.compound import Compound, HubError
from hub.gates import ROLES, add_gate, read_endpoint, set_role, setup_broker
from hub.ingest import gaps, reapply
from hub.parcels.worker import parcel_timers
from hub.sync import HubSync, SyncConfig


def _open(home: str | None) -> Compound:
    try:
        return Compound.open(resolve_home(home))
    except HubError as exc:
        fail(str(exc))


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
    """Every gate: online, last heartbeat, backlog, bundle version, gaps in its sequence."""
    c = _open(home)
    for row in c.db.query("select * from gates order by id"):
        beat = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
        print_json({"gate": row["id"], "name": row["name"], "online": bool(row["online"]),
                    "retired": row["retired_at"] is not None,
                    "heartbeat_at": row["heartbeat_at"], "outbox": beat.get("outbox"),
                    "bundle_version": beat.get("bundle_version"),
                    "clock_trusted": beat.get("clock_trusted"), "fps": beat.get("fps"),
                    "gaps": gaps(c.db, row["id"])})


@gate_group.command("reapply")
@home_option
def gate_reapply(home) -> None:
    """Apply again the gate events whose effects failed at ingest (their alerts say
    event_not_applied), e.g. after an upgrade that fixes the cause."""
    import time as _time

    from hub import store
    c = _open(home)
    applied, failing = reapply(c.db, store.current_policy(c.db), _time.time())
    print_json({"applied": applied, "still_failing": failing})
    if failing:
        sys.exit(1)


@click.command("serve")
@home_option
def serve(home) -> None:
    """Run the hub: ingest gate events, publish bundles, the time beacon and the shelf
    manifest; run the parcel timers and send notifications."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    c = _open(home)
    try:
        ep = read_endpoint(c.home.hub_mqtt)
    except HubError as exc:
        fail(str(exc))
    sync = HubSync(SyncConfig(ep.host, ep.port, ep.password, ep.username), c.home.hub_db,
                   c.home.hub_bundle, c.key)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sync.start()
    workers = [parcel_timers(c.home.hub_db)]
    try:
        sender = notify.sender_from_config(c.home)
    except notify.NotifyError as exc:  # the gates matter more than the messages
        click.echo(f"notifications off: {exc}", err=True)
        sender = None
    if sender is not None:
        workers.append(notify.notify_worker(c.home.hub_db, sender))
    for w in workers:
        w.start()
    click.echo(f"hub serving {c.name}: broker {ep.host}:{ep.port}", err=True)
    _watch(sync, workers, c.home.hub_db, stop)
    for w in workers:
        w.stop()
    sync.stop()


def _watch(sync: HubSync, workers: list, db_path, stop: threading.Event) -> None:
    """The working loop of `hub serve`: tell systemd READY once everything runs, then
    WATCHDOG=1 only while every thread lives, the database answers and ingest moves when
    messages wait. A hung or dead part stops the pings; systemd restarts the hub, which
    loses nothing (messages are acknowledged only after their commit)."""
    import sqlite3
    import time as _time

    from gatehouse.sdnotify import Notifier
    notifier = Notifier.from_environment()
    usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    every = min(5.0, usec / 3e6) if usec else 5.0
    notifier.ready(status="serving")
    seen, moved_at = sync.ingested, _time.monotonic()
    while not stop.wait(every):
        threads = list(sync._threads) + [w._thread for w in workers]
        problem = next((f"thread {t.name} died" for t in threads if not t.is_alive()), None)
        if sync.ingested != seen or sync._inbox.empty():
            seen, moved_at = sync.ingested, _time.monotonic()
        elif _time.monotonic() - moved_at > 120:
            problem = f"ingest stuck: {sync._inbox.qsize()} messages waiting"
        try:
            con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
            try:
                con.execute("select 1 from sqlite_master limit 1").fetchall()
            finally:
                con.close()
        except sqlite3.Error as exc:
            problem = f"database: {exc}"
        if problem:
            logging.getLogger("hub.serve").error("not healthy (no watchdog ping): %s", problem)
            notifier.status(f"not healthy: {problem}")
            continue
        notifier.watchdog()
        notifier.status(f"{'connected' if sync.connected.is_set() else 'no broker'}, "
                        f"{sync.ingested} events stored since start")
    notifier.stopping()
    notifier.close()
