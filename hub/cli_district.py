"""`hub district trust|link|status`: this compound's link to its street office
(docs/deploy.md, "Linking a compound to its district")."""
from __future__ import annotations

import time
from pathlib import Path

import click

from gatehouse.cli_common import fail, home_option, print_json, resolve_home
from gatehouse.codes.keys import key_id
from hub import audit, broker, district_config, district_feed, district_silence, meta
from hub.cli_compound import open_compound as _open
from hub.district_orders import last_applied
from hub.district_uplink import LINK_META


@click.group("district")
def district_group() -> None:
    """The link to the district (street office): orders down, a masked feed up."""


@district_group.command("trust")
@home_option
@click.option("--id", "district_id", required=True, help="The district's id (its orders name it).")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The district's public key (PEM, or the base64 / JSON its service prints).")
def trust_cmd(home, district_id, key_file) -> None:
    """Trust the district's key: only orders it signed are ever applied here."""
    db = _open(home).db
    try:
        raw = district_config.public_key_bytes(Path(key_file).read_bytes())
        kid = district_config.trust(db, district_id, raw)
    except ValueError as exc:
        fail(str(exc))
    audit.record(db, time.time(), "cli", "admin", "district.trust", district_id, None,
                 {"kid": kid})
    click.echo(f"orders of district {district_id} (key {kid}) will be applied here")


@district_group.command("link")
@home_option
@click.option("--compound-id", required=True,
              help="This compound's id at the district (letters, digits, - and _).")
@click.option("--district", required=True, metavar="HOST:PORT",
              help="The district's MQTT listener.")
@click.option("--username", default=None, help="Login at the district (default: compound id).")
@click.option("--password", prompt=True, hide_input=True)
@click.option("--cafile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The district's CA, for a TLS bridge.")
def link_cmd(home, compound_id, district, username, password, cafile) -> None:
    """Name this compound at its district and write the broker's bridge to it
    (`hub broker bridge`); restart the broker and `hub serve` after."""
    c = _open(home)
    host, _, port = district.rpartition(":")
    if not host or not port.isdigit():
        fail("--district is HOST:PORT")
    files = broker.BrokerFiles.in_folder(resolve_home(home).hub_broker)
    try:
        district_config.set_compound(c.db, compound_id)
        path = broker.write_bridge(files, compound_id, host, int(port),
                                   username or compound_id, password,
                                   Path(cafile) if cafile else None)
    except ValueError as exc:
        fail(str(exc))
    audit.record(c.db, time.time(), "cli", "admin", "district.link", compound_id, None,
                 {"district": district})
    click.echo(f"bridge written to {path}; restart the broker and `hub serve`")


@district_group.command("status")
@home_option
def status_cmd(home) -> None:
    """The link as JSON: up, silent (up, but no ack for a while: feed pending) or down,
    the feed's backlog, the last ack, the last order."""
    db = _open(home).db
    cfg = district_config.load(db)
    link = (meta.get_meta(db, LINK_META) or "down 0").split()
    silent = district_silence.silent_since(db)
    state = "silent" if link[0] == "up" and silent is not None else link[0]
    print_json({
        "district": cfg.district,
        "key": key_id(cfg.public_raw).hex() if cfg.public_raw else None,
        "compound": cfg.compound,
        "link": state if cfg.linked else "not linked",
        "link_since": float(link[1]) if len(link) > 1 and float(link[1]) else None,
        "no_ack_since": silent,
        "feed_last": district_feed.last_cseq(db),
        "backlog": district_feed.backlog(db),
        "last_ack_at": district_feed.last_acked_at(db),
        "last_order_applied": last_applied(db),
        "orders": list(db.query("select seq, kind, building, status, reason, at, "
                                "reported_at from district_orders order by seq desc "
                                "limit 10")),
    })
