"""The office's alerts, delivered through the outbox to the routes of alerts.json.

Every pass of `hub serve`'s outbox worker (hub/notify.py) calls `AlertDelivery.run`:

1. the alerts raised since the last pass (the `alerts` table, after a cursor kept in
   `meta`) are queued, one outbox row per route, target and kind. A row still waiting
   takes the newer alerts in: its text is rewritten with the count and the gates, so
   ten red codes in a minute are one message `红码 Red health code ×10` (北门 ×7, 南门 ×3);
2. each route's due rows are sent with that route's sender; a failed try waits and is
   tried again (the outbox's backoff), and the office sees it on /alerts/delivery.

Row keys are `alert:<route>:<target>:<kind>:<first alert id>`; a burst's count is the
alerts of its kind (at the gates the route wants) from that first id on. The cursor starts at the
alert ten minutes old when the hub first runs this: an upgrade does not send the
backlog, and what a gate raised while the hub was starting still goes out.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import sqlite_utils

from gatehouse.db import write_transaction
from hub import meta, policy_versions
from hub.alert_rules import AlertRoute, AlertRules, AlertRulesError, RouteChannel, alert_body, \
    load_rules
from hub.alert_senders import DingTalkRobotSender, WeComRobotSender
from hub.notify_senders import FileSender, Sender, SmsGatewaySender, WebhookSender
from hub.outbox import Kind, deliver_due, queue

log = logging.getLogger(__name__)

CONFIG_NAME = "alerts.json"
CURSOR = "alert_delivery.cursor"
BATCH = 1000
FIRST_RUN_S = 600.0


def config_path(hub_dir: Path) -> Path:
    return Path(hub_dir) / CONFIG_NAME


def route_keys(name: str) -> str:
    """The key prefix of every outbox row of a route."""
    return f"alert:{name}:"


def sender_for(route: AlertRoute) -> Sender:
    ch = route.channel
    if ch is RouteChannel.WECOM:
        return WeComRobotSender(route.url, route.style)
    if ch is RouteChannel.DINGTALK:
        return DingTalkRobotSender(route.url, route.secret, route.style)
    if ch is RouteChannel.WEBHOOK:
        return WebhookSender(route.url, route.secret)
    if ch is RouteChannel.SMS:
        return SmsGatewaySender(route.url, route.secret, route.sign)
    return FileSender(route.url)


def queue_new(db: sqlite_utils.Database, rules: AlertRules, now: float,
              compound: str = "") -> int:
    """Queue the alerts raised since the last call for every route that wants them;
    how many alerts were read. One transaction: the cursor moves with the rows."""
    with write_transaction(db):
        cursor = meta.get_meta(db, CURSOR)
        if cursor is None:   # the first run: the last ten minutes only, not the backlog
            cursor = db.execute("select coalesce(max(id), 0) from alerts where at < ?",
                                [now - FIRST_RUN_S]).fetchone()[0]
            meta.set_meta(db, CURSOR, str(cursor))
        new = list(db.query("select id, at, gate, kind from alerts where id > ? "
                            "order by id limit ?", [int(cursor), BATCH]))
        if not new:
            return 0
        top = new[-1]["id"]
        bursts: dict[tuple, tuple[AlertRoute, dict]] = {}
        for a in new:
            for route in rules.routes:
                if route.wants(a["kind"], a["gate"]):
                    for target, recipient in route.targets():
                        # first wins: the burst's first alert in this batch
                        bursts.setdefault((route.name, target, recipient, a["kind"]), (route, a))
        zone = policy_versions.compound_zone(db)
        names = {r["id"]: r["name"] for r in db.query("select id, name from gates")}
        for (name, target, recipient, kind), (route, first) in bursts.items():
            prefix = f"{route_keys(name)}{target}:{kind}:"
            waiting = next(db.query(
                "select key from notifications where kind = ? and state = 'pending' and "
                "substr(key, 1, ?) = ? order by id desc limit 1",
                [Kind.ALERT.value, len(prefix), prefix]), None)
            key = waiting["key"] if waiting else prefix + str(first["id"])
            body = _burst_body(db, route, kind, int(key[len(prefix):]), top, zone, compound,
                               names)
            # The window opens with the burst's first alert (gate time, within reason).
            start = min(now, max(first["at"], now - route.burst_s))
            queue(db, kind=Kind.ALERT, key=key, body=body, at=now, recipient=recipient,
                  building=None, hold=route.due(kind, start, zone) - now)
        meta.set_meta(db, CURSOR, str(top))
    return len(new)


def _burst_body(db, route: AlertRoute, kind: str, first_id: int, top: int, zone,
                compound: str, names: dict[str, str]) -> str:
    """The burst's message: its alerts of `kind` the route wants, from its first on."""
    rows = [r for r in db.query("select at, gate, detail from alerts where kind = ? and "
                                "id between ? and ? order by id", [kind, first_id, top])
            if route.wants(kind, r["gate"])]
    per_gate: dict[str, int] = {}
    for r in rows:
        per_gate[r["gate"]] = per_gate.get(r["gate"], 0) + 1
    try:
        detail = json.loads(rows[-1]["detail"] or "{}")
    except ValueError:
        detail = {}
    return alert_body(kind, [(g, names.get(g) or "", n) for g, n in per_gate.items()],
                      min(r["at"] for r in rows), max(r["at"] for r in rows), zone, compound,
                      detail if isinstance(detail, dict) else {})


class AlertDelivery:
    """The routes of one alerts.json, read again whenever the file changes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rules = AlertRules()
        self.problem = ""
        self._senders: dict[str, Sender] = {}
        self._seen: tuple | None = None

    def reload(self) -> None:
        try:
            st = self.path.stat()
            seen = (st.st_mtime_ns, st.st_size, st.st_mode)
        except FileNotFoundError:
            seen = None
        if seen == self._seen:
            return
        self._seen = seen
        try:
            self.rules = load_rules(self.path)
            self.problem = ""
        except AlertRulesError as exc:   # keep the last good routes; the page says why
            self.problem = str(exc)
            log.error("alert routes not reloaded: %s", exc)
        self._senders = {r.name: sender_for(r) for r in self.rules.routes}

    def run(self, db: sqlite_utils.Database, now: float) -> tuple[int, int]:
        """Queue what was raised, send what is due: (sent, failed tries)."""
        self.reload()
        queue_new(db, self.rules, now, meta.get_meta(db, "compound") or "")
        sent = failed = 0
        for route in self.rules.routes:
            s, f = deliver_due(db, self._senders[route.name], now, keys=route_keys(route.name))
            sent, failed = sent + s, failed + f
        return sent, failed
