"""`district broker conf|stream` and `district compound add`: the district broker's
side of the command line (district/cli.py registers them)."""
from __future__ import annotations

from pathlib import Path

import click

from district import aio, app_run
from district.cli_common import click_fail, home_option, load_home
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
    reloaded = False
    if (h.nats / "nats.conf").exists():   # the single node of `district run`
        write_config(app_run.node_config(h), h.nats / "nats.conf")
        reloaded = reload_running(h.nats / "nats.pid")
    host = cfg.host if cfg.host not in ("0.0.0.0", "::") else "<this machine's address>"
    click.echo(f"compound {compound_id} may log in"
               + (" (the running broker reloaded)" if reloaded else "")
               + (".\nOn a three-machine district: `district broker conf` again on each "
                  "node, then `kill -HUP` its nats-server.\n" if not reloaded else ".\n")
               + f"At the compound's hub, its technician runs:\n"
               f"  echo {h.public_b64()} > district.pub\n"
               f"  hub district trust --id {cfg.id} --key district.pub\n"
               f"  hub district link --compound-id {compound_id} "
               f"--district {host}:{cfg.mqtt_port}\n"
               f"and types this password at the prompt: {password}")
