"""The `district` command: the street office's service (docs/district.md). Each command
parses its options and calls one library function."""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import click

from district import aio, app_run, cli_broker, cli_web, ingest, orders, retention, units
from district.cli_common import home_option, load_home
from district.db import connect
from district.home import DistrictConfig
from gatehouse.cli_common import fail, print_json
from gatehouse.district_wire import OrderKind



@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Gatehouse district: the street office's store, orders and page."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("district").setLevel(os.environ.get("GATEHOUSE_LOG", "INFO"))


_home = load_home


def _dsn(home: str | None, dsn: str | None) -> str:
    return dsn or os.environ.get(app_run.ENV_DSN) or _home(home).dsn()


dsn_option = click.option("--dsn", default=None, help="PostgreSQL (default: "
                          "$GATEHOUSE_DISTRICT_DSN, else the home's).")


@main.command("init")
@home_option
@click.option("--id", "district_id", required=True, help="The district's id (orders name it).")
@click.option("--name", default="", help="Its name, as the page shows it.")
@click.option("--zone", default="Asia/Shanghai", show_default=True)
@click.option("--host", default="0.0.0.0", show_default=True,
              help="Where the compounds' bridges reach the MQTT listener.")
@click.option("--mqtt-port", default=1883, show_default=True)
@click.option("--nats-port", default=4222, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--retention-days", default=retention.DEFAULT_DAYS, show_default=True)
@click.option("--dsn", default="", help="An existing PostgreSQL (three machines); "
              "default: a cluster of its own in the home.")
def init_cmd(home, district_id, name, zone, host, mqtt_port, nats_port, workers,
             retention_days, dsn) -> None:
    """Create a district home: config, signing key, broker passwords."""
    h = _home(home, exists=False)
    try:
        h.init(DistrictConfig(id=district_id, name=name, zone=zone, host=host,
                              mqtt_port=mqtt_port, nats_port=nats_port, workers=workers,
                              retention_days=retention_days, dsn=dsn))
    except (ValueError, FileExistsError) as exc:
        fail(str(exc))
    click.echo(f"district {district_id} in {h.root}; its public key: {h.public_b64()}")


@main.command("run")
@home_option
@click.option("--workers", type=click.IntRange(0, 64), default=None,
              help="Ingest workers (default: the config's).")
def run_cmd(home, workers) -> None:
    """The district on one machine: PostgreSQL, a broker node, the workers."""
    raise SystemExit(app_run.run(_home(home), workers))


@main.command("worker")
@dsn_option
@click.option("--nats", "nats_urls", multiple=True, help="Broker URL(s) with the service "
              "login (default: $GATEHOUSE_DISTRICT_NATS, comma-separated).")
@click.option("--batch", default=200, show_default=True)
@click.option("--no-orders", is_flag=True, help="Do not take part in sending orders.")
@click.option("--name", default="worker")
def worker_cmd(dsn, nats_urls, batch, no_orders, name) -> None:
    """One ingest worker (run several, on any machine)."""
    from district.worker import WorkerConfig, main as run_worker
    urls = list(nats_urls) or [u for u in os.environ.get(app_run.ENV_NATS, "").split(",") if u]
    dsn = dsn or os.environ.get(app_run.ENV_DSN)
    if not urls or not dsn:
        fail("give --dsn and --nats (or $GATEHOUSE_DISTRICT_DSN, $GATEHOUSE_DISTRICT_NATS)")
    run_worker(WorkerConfig(dsn=dsn, nats_urls=urls, batch=batch,
                            send_orders=not no_orders, name=name))


@main.command("migrate")
@home_option
@dsn_option
def migrate_cmd(home, dsn) -> None:
    """Apply the schema's migrations and the home's settings to the database."""
    h = _home(home)
    app_run.prepare_database(h, _dsn(home, dsn))
    click.echo("database up to date")


order_group = click.Group("order", help="Orders down to the compounds (signed).")
main.add_command(order_group)


def _order(home, kind: OrderKind, compounds, building, policy, by, note) -> None:
    h = _home(home)
    cfg = h.config()
    with connect(h.dsn()) as conn:
        try:
            made = orders.create_many(conn, h.key(), cfg.id, compounds, kind, by,
                                      building=building, policy=policy, note=note,
                                      template=f"{kind.value}:{time.time():.0f}"
                                      if len(compounds) > 1 else None)
        except ValueError as exc:
            fail(str(exc))
    print_json([{"compound": m.compound, "seq": m.seq, "id": m.id} for m in made])


by_option = click.option("--by", "by", default=lambda: os.environ.get("USER", "office"),
                         help="Who orders it (recorded and signed).")
note_option = click.option("--note", default="")


def _building_order(kind: OrderKind, help_text: str) -> click.Command:
    @click.command(kind.value, help=help_text)
    @home_option
    @click.argument("compound_id")
    @click.argument("building")
    @by_option
    @note_option
    def cmd(home, compound_id, building, by, note) -> None:
        _order(home, kind, [compound_id], building, None, by, note)
    return cmd


order_group.add_command(_building_order(OrderKind.SEAL, "Seal a building (封控)."))
order_group.add_command(_building_order(OrderKind.CONTROL, "Control a building (管控)."))
order_group.add_command(_building_order(OrderKind.REOPEN, "Reopen a building."))


@order_group.command("policy")
@home_option
@click.argument("policy_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("compound_ids", nargs=-1, required=True)
@by_option
@note_option
def order_policy(home, policy_file, compound_ids, by, note) -> None:
    """Push a policy template (JSON) to one or many compounds: one order each."""
    try:
        policy = json.loads(Path(policy_file).read_text())
    except ValueError as exc:
        fail(f"{policy_file}: {exc}")
    _order(home, OrderKind.POLICY, list(compound_ids), None, policy, by, note)


@main.command("gaps")
@home_option
@dsn_option
@click.option("--compound", "compound_id", default=None)
def gaps_cmd(home, dsn, compound_id) -> None:
    """The cseq numbers each compound sent that never arrived, as ranges."""
    with connect(_dsn(home, dsn)) as conn:
        ids = [compound_id] if compound_id else \
            [r[0] for r in conn.execute("select id from compounds order by id")]
        print_json({cid: ingest.gaps(conn, cid) for cid in ids})


@main.command("status")
@home_option
@dsn_option
@click.option("--nats", "nats_urls", multiple=True, help="Broker URL(s) (default: the home's).")
def status_cmd(home, dsn, nats_urls) -> None:
    """Compounds online, the stream's backlog, gaps: the district at a glance (JSON)."""
    import nats
    from district.nats_local import CONSUMER, STREAM, connect_options
    urls = list(nats_urls) or _home(home).nats_urls()

    async def backlog() -> dict:
        nc = await nats.connect(**connect_options(urls))
        try:
            js = nc.jetstream()
            info = await js.consumer_info(STREAM, CONSUMER)
            return {"waiting": info.num_pending, "unacked": info.num_ack_pending}
        finally:
            await nc.close()
    with connect(_dsn(home, dsn)) as conn:
        rows = conn.execute("select id, online from compounds_live order by id").fetchall()
        doc = {"compounds": len(rows), "online": sum(1 for _, on in rows if on),
               "gaps": {cid: g for cid, _ in rows if (g := ingest.gaps(conn, cid))},
               "quarantined": conn.execute("select count(*) from quarantine").fetchone()[0]}
    doc["stream"] = aio.run(backlog())
    print_json(doc)


@main.command("retention")
@home_option
@dsn_option
@click.option("--days", type=click.IntRange(1, 3660), default=None,
              help="Keep this many days (default: the config's).")
def retention_cmd(home, dsn, days) -> None:
    """Drop the days of events older than the retention (the audit is kept)."""
    days = days or _home(home).config().retention_days
    with connect(_dsn(home, dsn)) as conn:
        dropped = retention.drop_old(conn, days)
    click.echo(f"dropped {len(dropped)} day(s)" + (f": {', '.join(dropped)}" if dropped else ""))


main.add_command(cli_broker.broker_group)
main.add_command(cli_broker.compound_group)
main.add_command(units.units_cmd)   # `district units` (district/units.py)
cli_web.register(main)   # `district web`, `district user add` (district/cli_web.py)

if __name__ == "__main__":
    main()
