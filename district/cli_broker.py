"""`district broker conf|stream` and `district compound add|remove`: the district
broker's side of the command line (district/cli.py registers them)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import click
import psycopg

from district import aio, app_run, compounds
from district.cli_common import click_fail, home_option, load_home
from district.db import connect
from district.home import DistrictHome
from district.nats_local import (
    NodeConfig,
    Peer,
    connect_options,
    ensure_stream,
    reload_running,
    write_config,
)


@click.group("broker")
def broker_group() -> None:
    """The district broker (nats-server) for three machines."""


@broker_group.command("conf")
@home_option
@click.option("--node", type=click.IntRange(1, 3), required=True, help="This machine: 1-3.")
@click.option("--peers", required=True, help="The three machines' addresses, in order, "
              "comma-separated.")
@click.option("--cluster-port", default=6222, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write it (default <home>/nats/node-N.conf).")
def broker_conf(home, node, peers, cluster_port, out) -> None:
    """Write the nats-server config of one node of three (same logins on each)."""
    h = load_home(home)
    hosts = [p.strip() for p in peers.split(",") if p.strip()]
    if len(hosts) != 3:
        click_fail("--peers names three machines")
    cfg, secret = h.config(), h.secrets()
    nodes = [Peer(host, cfg.nats_port, cluster_port, cfg.mqtt_port) for host in hosts]
    me = nodes[node - 1]
    path = Path(out) if out else h.nats / f"node-{node}.conf"
    write_config(NodeConfig(
        name=f"{cfg.id}-{node}", store_dir=h.nats / "js", client_port=cfg.nats_port,
        mqtt_port=cfg.mqtt_port, listen_host=me.host, cluster_port=cluster_port,
        peers=nodes, route_password=secret["route"], service_password=secret["service"],
        compounds=dict(secret["compounds"]), pid_file=h.nats / "nats.pid",
        mqtt_tls=cfg.mqtt_tls), path)
    click.echo(f"wrote {path}: run `nats-server -c {path}` on {me.host}")


@broker_group.command("stream")
@home_option
@click.option("--nats", "nats_urls", multiple=True, help="Broker URL(s) (default: the home's).")
@click.option("--replicas", type=click.IntRange(1, 3), default=1, show_default=True)
def broker_stream(home, nats_urls, replicas) -> None:
    """Create or update the stream GATEHOUSE_UP and its consumer `ingest`."""
    import nats
    urls = list(nats_urls) or load_home(home).nats_urls()

    async def go() -> None:
        nc = await nats.connect(**connect_options(urls))
        try:
            await ensure_stream(nc, replicas)
        finally:
            await nc.close()
    aio.run(go())
    click.echo(f"stream GATEHOUSE_UP ready, {replicas} replica(s)")


@click.group("compound")
def compound_group() -> None:
    """The compounds of this district."""


@compound_group.command("add")
@home_option
@click.argument("compound_id")
def compound_add(home, compound_id) -> None:
    """A broker login for a compound; prints what its technician runs at its hub."""
    h = load_home(home)
    try:
        password = h.add_compound(compound_id)
    except ValueError as exc:
        click_fail(str(exc))
    cfg = h.config()
    reloaded = _reload(h)
    try:   # a compound removed before belongs again (the page, its orders)
        with connect(_dsn(h, None), connect_timeout=5) as conn:
            if compounds.restore(conn, compound_id, _actor(), time.time()):
                click.echo(f"compound {compound_id} was removed: it belongs again")
    except psycopg.OperationalError:
        click.echo("(the database is not reachable: if this compound was removed before, "
                   "run this again once it is, or the page keeps it removed)")
    host = cfg.host if cfg.host not in ("0.0.0.0", "::") else "<this machine's address>"
    click.echo(f"compound {compound_id} may log in"
               + (" (the running broker reloaded)" if reloaded else "")
               + (".\n" + THREE_MACHINES if not reloaded else ".\n")
               + f"At the compound's hub, its technician runs:\n"
               f"  echo {h.public_b64()} > district.pub\n"
               f"  hub district trust --id {cfg.id} --key district.pub\n"
               f"  hub district link --compound-id {compound_id} "
               f"--district {host}:{cfg.mqtt_port}\n"
               f"and types this password at the prompt: {password}")


THREE_MACHINES = ("On a three-machine district: `district broker conf` again on each "
                  "node, then `kill -HUP` its nats-server.\n")


def _reload(h: DistrictHome) -> bool:
    """The single node of `district run` gets the home's logins now; True if a running
    one was told (SIGHUP)."""
    if not (h.nats / "nats.conf").exists():
        return False
    write_config(app_run.node_config(h), h.nats / "nats.conf")
    return reload_running(h.nats / "nats.pid")


def _dsn(h: DistrictHome, dsn: str | None) -> str:
    return dsn or os.environ.get(app_run.ENV_DSN) or h.dsn()


def _actor() -> str:
    return os.environ.get("USER", "office")


@compound_group.command("remove")
@home_option
@click.argument("compound_id")
@click.option("--dsn", default=None, help="PostgreSQL (default: $GATEHOUSE_DISTRICT_DSN, "
              "else the home's).")
@click.option("--by", "by", default=_actor, help="Who removes it (audited).")
def compound_remove(home, compound_id, dsn, by) -> None:
    """The compound leaves: its broker login goes, its copies of events stay until the
    retention drops them, its pending orders are withdrawn; audited."""
    h = load_home(home)
    try:   # the database first: nothing changes unless the removal can be audited
        conn = connect(_dsn(h, dsn), connect_timeout=10)
    except psycopg.OperationalError as exc:
        click_fail(f"the database is not reachable ({str(exc).strip()[:200]}): start "
                   "`district run` or give --dsn; nothing was changed")
    with conn:
        had_login = h.remove_compound(compound_id)
        reloaded = _reload(h) if had_login else False
        gone = compounds.remove(conn, compound_id, by, time.time(), had_login)
    if not had_login and not gone.known:
        click_fail(f"no compound {compound_id} at this district (audited all the same)")
    days = h.config().retention_days
    click.echo(
        f"compound {compound_id} removed: "
        + ("its broker login is gone" if had_login else "it had no broker login")
        + (" (the running broker reloaded: its bridge is disconnected)" if reloaded else "")
        + ".\n" + ("" if reloaded or not had_login else THREE_MACHINES)
        + f"Kept until the retention ({days} days) drops them: {gone.events} events; "
        f"{gone.pending_orders} pending order(s) withdrawn: never sent.\n"
        f"At the compound's hub, its technician removes the bridge and restarts the broker:\n"
        f"  rm <hub home>/hub/broker/conf.d/bridge-{compound_id}.conf\n"
        f"  systemctl restart gatehouse-broker\n"
        f"(the hub keeps working on its own; `hub district status` then says down)")
