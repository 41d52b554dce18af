"""What a technician's Prometheus reads from the hub: counts from the database, no names.

    text = render(collect(db, time.time()))      # the body of GET /metrics

Gates (online, heartbeat age, outbox backlog, per gate), quarantined events, open alerts
by kind, the outbox by kind and state (failed notifications among them), parcels by
state, and how long events took from the gate to the hub's database (ingest lag).
`hub serve` adds its own link and writer (`ServeHealth`). Every value is a gauge read at
scrape time: the database is the counter, so a restarted hub reports the same numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from gatehouse.prom_text import CONTENT_TYPE, Family, render

__all__ = ["CONTENT_TYPE", "Family", "ServeHealth", "collect", "is_online", "render"]

LAG_WINDOW_S = 300.0


@dataclass(frozen=True)
class ServeHealth:
    """`hub serve`'s own state, as its health server saw it (hub/health.py)."""

    connected: bool          # the MQTT link to the broker
    waiting: int             # messages received, not yet written
    writer_lag_s: float      # how long the oldest wait has gone without the writer moving
    ingested: int            # events stored since the process started
    dead: tuple[str, ...] = ()


def is_online(online: int | None, heartbeat_at: float | None, now: float,
              offline_after_s: float) -> bool:
    """The overview's rule: not marked offline, and a heartbeat within the limit (a gate
    that never sent one counts by its status alone)."""
    fresh = heartbeat_at is not None and now - heartbeat_at <= offline_after_s
    return bool(online) and (fresh or heartbeat_at is None)


def collect(db: sqlite_utils.Database, now: float, offline_after_s: float = 60.0,
            serve: ServeHealth | None = None) -> list[Family]:
    """Every metric, read now from the database (and `hub serve`'s state when given)."""
    fams = _gates(db, now, offline_after_s)
    fams.append(Family("quarantined_events", "Messages and events set aside by ingest "
                       "(kept for the retention period)").add(_one(db, "select count(*) "
                                                                   "from quarantine")))
    alerts = Family("open_alerts", "Alerts not yet acknowledged, by kind")
    for r in db.query("select kind, count(*) as n from alerts where acked_at is null "
                      "group by kind order by kind"):
        alerts.add(r["n"], kind=r["kind"])
    alerts.add(_one(db, "select count(*) from alerts where acked_at is null"), kind="all")
    outbox = Family("notifications", "Outbox messages by kind (alert or a residents' "
                    "kind) and state; state=failed are the failed notifications")
    for r in db.query("select kind, state, count(*) as n from notifications "
                      "group by kind, state order by kind, state"):
        outbox.add(r["n"], kind=r["kind"], state=r["state"])
    failed = Family("notifications_failed", "Outbox messages that failed for good "
                    "(listed on /notifications and /alerts/delivery)").add(
        _one(db, "select count(*) from notifications where state = 'failed'"))
    parcels = Family("parcels", "Parcels by state")
    for r in db.query("select state, count(*) as n from parcels group by state order by state"):
        parcels.add(r["n"], state=r["state"])
    lag = db.execute("select count(*), max(received_at - at), avg(received_at - at) "
                     "from gate_events where received_at >= ?", [now - LAG_WINDOW_S]).fetchone()
    fams += [alerts, outbox, failed, parcels,
             Family("events_received_5m", "Gate events stored in the last 5 minutes")
             .add(lag[0]),
             Family("ingest_lag_max_seconds", "Longest time from a gate's event to the hub's "
                    "database, events of the last 5 minutes").add(max(lag[1] or 0, 0)),
             Family("ingest_lag_avg_seconds", "Average of the same").add(max(lag[2] or 0, 0))]
    if serve is not None:
        fams += [Family("broker_connected", "hub serve's MQTT link (1 connected)")
                 .add(serve.connected),
                 Family("writer_waiting_messages", "Messages received, not yet written")
                 .add(serve.waiting),
                 Family("writer_lag_seconds", "How long messages have waited with the "
                        "writer not moving (0 when none wait)").add(serve.writer_lag_s),
                 Family("events_ingested", "Events stored since hub serve started",
                        type="counter").add(serve.ingested)]
    return fams


def _one(db, sql: str, args=()) -> float:
    return db.execute(sql, list(args)).fetchone()[0] or 0


def _gates(db, now: float, offline_after_s: float) -> list[Family]:
    up = Family("gate_up", "1 when the gate is online (status online, heartbeat within "
                "the limit), per gate")
    age = Family("gate_heartbeat_age_seconds", "Seconds since the gate's last heartbeat")
    backlog = Family("gate_outbox_backlog", "Events waiting in the gate's outbox, from its "
                     "last heartbeat")
    online = 0
    rows = list(db.query("select id, online, heartbeat_at, heartbeat from gates "
                         "where retired_at is null order by id"))
    for r in rows:
        on = is_online(r["online"], r["heartbeat_at"], now, offline_after_s)
        online += on
        up.add(on, gate=r["id"])
        if r["heartbeat_at"] is not None:
            age.add(max(now - r["heartbeat_at"], 0), gate=r["id"])
        try:
            beat = json.loads(r["heartbeat"]) if r["heartbeat"] else {}
        except ValueError:
            beat = {}
        if isinstance(beat.get("outbox"), (int, float)):
            backlog.add(beat["outbox"], gate=r["id"])
    gates = Family("gates", "Gates enrolled and not retired, by state")
    gates.add(online, state="online").add(len(rows) - online, state="offline")
    return [gates, up, age, backlog]
