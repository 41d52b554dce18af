"""`hub serve`'s composition root: the hub's working process, wired in one place.

What it runs, in start order:

1. the MQTT side (hub/sync.py): ingest of the gates' events, the bundle and the time
   beacon;
2. the parcels feature: its timers (hub/parcels/worker.py: holds ending, waiting
   parcels, overdue) and the shelf manifest for parcel-area kiosks
   (hub/parcels/manifest.py), published on the hub's MQTT client;
3. the notification sender (hub/notify.py), when notifications are set up;
4. the nightly jobs: the presence reset and the retention purge (hub/retention.py).
   They run here and nowhere else, so once however many `hub web` processes run;
5. the district link (hub/district_uplink.py): the masked feed, the status and the
   orders' reports up, the acks and orders down, over the bridge to the street office.

Then the working loop (`watch`) tells systemd READY and pings its watchdog while every
part lives. The CLI (`hub serve`) parses its options and calls `run`.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from gatehouse import topics
from gatehouse.home import Home
from gatehouse.sdnotify import Notifier
from gatehouse.stop_signals import stop_on_signals
from hub import (alert_topic, audit, features, ha_discovery, health, notify, policy_versions,
                 presence, retention, schema)
from hub.compound import Compound
from hub.district_uplink import DistrictUplink, UplinkConfig, attach
from hub.gates import read_endpoint
from hub.parcels.manifest import ShelfManifest
from hub.parcels.worker import parcel_timers
from hub.periodic import Periodic
from hub.retention import NightlyConfig
from hub.sync import HubSync, SyncConfig

log = logging.getLogger("hub.serve")


def run(home: Home, say: Callable[[str], None] = print) -> None:
    """Run the hub until SIGTERM or SIGINT. Raises HubError when it cannot start."""
    c = Compound.open(home)
    ep = read_endpoint(c.home.hub_mqtt)
    sync = HubSync(SyncConfig(ep.host, ep.port, ep.password, ep.username), c.home.hub_db,
                   c.home.hub_bundle, c.key, features.event_handlers())
    stop = threading.Event()
    stop_on_signals(stop.set)
    uplink = district_link(c, sync)
    shelf = shelf_manifest(c, sync)
    sync.start()
    workers = [parcel_timers(c.home.hub_db), shelf, uplink.worker()]
    try:
        sender = notify.sender_from_config(c.home)
    except notify.NotifyError as exc:  # the gates matter more than the messages
        say(f"notifications off: {exc}")
        sender = None
    # Always: the office's alerts go out through the outbox even when residents'
    # notifications are off (their rows wait).
    workers.append(notify.notify_worker(c.home.hub_db, sender))
    publish = sync.client.publish   # QoS 1; rc 0 once paho has taken the message
    workers.append(alert_topic.alert_topic_worker(
        c.home.hub_db, lambda topic, raw: publish(topic, raw, qos=1).rc == 0))
    workers.append(ha_discovery.ha_worker(
        c.home.hub_db, lambda topic, raw, retain: publish(topic, raw, qos=1,
                                                           retain=retain).rc == 0))
    # /healthz and /metrics on loopback (docs/admin.md); 0 turns it off. A port in use
    # (a second hub on this machine) costs the probe, never the hub.
    health_port = int(os.environ.get("GATEHOUSE_HEALTH_PORT", "8081"))
    if health_port:
        try:
            workers.append(health.serve_health(c.home, sync, health_port))
        except OSError as exc:
            say(f"health server off: port {health_port}: {exc.strerror}")
    zone = policy_versions.current_policy(c.db).zone
    workers += nightly_jobs(c.home, NightlyConfig.from_env(), zone)
    for w in workers:
        w.start()
    say(f"hub serving {c.name}: broker {ep.host}:{ep.port}")
    watch(sync, workers, c.home.hub_db, stop)
    for w in workers:
        w.stop()
    uplink.stopped()
    sync.stop()


def shelf_manifest(c: Compound, sync: HubSync) -> Periodic:
    """The parcel shelves' manifest, published on the hub's MQTT client (retained) when
    parcels change and on every connect (not started)."""
    shelf = ShelfManifest(
        c.key, lambda blob: sync.client.publish(topics.HUB_PARCELS, blob, qos=1, retain=True),
        sync.connected.is_set)
    sync.when_connected(shelf.again)
    return shelf.worker(c.home.hub_db)


def district_link(c: Compound, sync: HubSync) -> DistrictUplink:
    """The district link on the hub's MQTT client (routed before it connects); idle until
    `hub district link` names this compound at its district."""
    uplink = DistrictUplink(
        c.home.hub_db, lambda topic, raw: sync.client.publish(topic, raw, qos=1).rc == 0,
        sync.connected.is_set,
        lambda db, at: Compound(c.home, db, c.key, c.binding_key).publish(at).version,
        UplinkConfig.from_env())
    attach(sync, uplink)
    return uplink


def nightly_jobs(home: Home, config: NightlyConfig, zone: ZoneInfo,
                 clock: Callable[[], float] = time.time) -> list[Periodic]:
    """The nightly presence reset and retention purge, each recorded in the audit log
    (not started)."""

    def reset(now: float) -> None:
        db = schema.open_db(home.hub_db)
        done = presence.reset(db, now, config.reset_after_hours, "nightly-reset")
        audit.record(db, now, "nightly-reset", "system", "presence.reset",
                     f"{len(done)} people", None, {"people": [d["person_ref"] for d in done]})
        db.close()

    def purge(now: float) -> None:
        db = schema.open_db(home.hub_db)
        counts = retention.purge(db, now, config.retention_days)
        audit.record(db, now, "retention", "system", "retention.purge",
                     f"older than {config.retention_days} days", None, counts)
        db.close()

    return [retention.nightly("presence-reset", config.reset_at, zone, reset, clock),
            retention.nightly("retention-purge", config.purge_at, zone, purge, clock)]


def watch(sync: HubSync, workers: list, db_path, stop: threading.Event) -> None:
    """The working loop of `hub serve`: tell systemd READY once everything runs, then
    WATCHDOG=1 only while every thread lives, the database answers and ingest moves when
    messages wait. A hung or dead part stops the pings; systemd restarts the hub, which
    loses nothing (messages are acknowledged only after their commit)."""
    notifier = Notifier.from_environment()
    usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    every = min(5.0, usec / 3e6) if usec else 5.0
    notifier.ready(status="serving")
    seen, moved_at = sync.ingested, time.monotonic()
    while not stop.wait(every):
        h = sync.health()
        dead = h.dead + [w.name for w in workers if not w.is_alive()]
        problem = f"thread {dead[0]} died" if dead else None
        if h.ingested != seen or not h.waiting:
            seen, moved_at = h.ingested, time.monotonic()
        elif time.monotonic() - moved_at > 120:
            problem = f"ingest stuck: {h.waiting} messages waiting"
        try:
            con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
            try:
                con.execute("select 1 from sqlite_master limit 1").fetchall()
            finally:
                con.close()
        except sqlite3.Error as exc:
            problem = f"database: {exc}"
        if problem:
            log.error("not healthy (no watchdog ping): %s", problem)
            notifier.status(f"not healthy: {problem}")
            continue
        notifier.watchdog()
        notifier.status(f"{'connected' if h.connected else 'no broker'}, "
                        f"{h.ingested} events stored since start")
    notifier.stopping()
    notifier.close()
