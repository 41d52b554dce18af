"""Each gate as a Home Assistant device, by HA's MQTT discovery convention.

For every gate not retired the hub publishes, retained, one discovery config per entity
under `homeassistant/<component>/gatehouse_<gate>/<entity>/config`, and the gate's
state as one retained JSON on `gatehouse/hub/ha/<gate>/state` that every entity reads
with a `value_template`:

    {"online": "ON", "last_heartbeat": "2026-11-23T12:00:00+08:00", "backlog": 3,
     "camera_problem": "OFF", "door_problem": "OFF",
     "entries_today": 12, "exits_today": 9, "refusals_today": 1, "referrals_today": 2}

Counts and states only, never a person. Every entity's availability is the hub's own
retained status (`gatehouse/hub/status`), so they go unavailable when the hub is down.
A retired gate's configs are published empty, which removes the device from HA. The
publisher sends a state when it changed, and configs and state again every 10 minutes.

    worker = ha_worker(home.hub_db, lambda t, raw, retain: sync.client.publish(
        t, raw, qos=1, retain=retain).rc == 0)
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import sqlite_utils

from gatehouse import topics
from hub import policy_versions, presence
from hub.metrics import is_online
from hub.periodic import Periodic

PREFIX = "homeassistant"
STATE = f"{topics.ROOT}/hub/ha"
# Configs and states are sent again this often: a broker that refused them (an ACL not
# yet reloaded) or lost its retained store gets them back without a hub restart.
REFRESH_S = 600.0
DOOR_KINDS = ("door_forced", "door_held")

Publish = Callable[[str, bytes, bool], bool]

# (component, key, name, extra config): what HA shows of a gate.
ENTITIES: tuple[tuple[str, str, str, dict], ...] = (
    ("binary_sensor", "online", "在线 Online", {"device_class": "connectivity"}),
    ("sensor", "last_heartbeat", "最后心跳 Last heartbeat", {"device_class": "timestamp"}),
    ("sensor", "backlog", "待上传 Outbox backlog",
     {"state_class": "measurement", "unit_of_measurement": "events"}),
    ("binary_sensor", "camera_problem", "摄像头故障 Camera problem",
     {"device_class": "problem"}),
    ("binary_sensor", "door_problem", "门报警 Door alarm", {"device_class": "problem"}),
    ("sensor", "entries_today", "今日进 Entries today", {"state_class": "total_increasing"}),
    ("sensor", "exits_today", "今日出 Exits today", {"state_class": "total_increasing"}),
    ("sensor", "refusals_today", "今日拒绝 Refusals today", {"state_class": "total_increasing"}),
    ("sensor", "referrals_today", "今日转人工 Referrals today",
     {"state_class": "total_increasing"}),
)


def node_id(gate: str) -> str:
    """HA's node and object ids allow letters, digits, _ and - (a gate id may hold '.')."""
    return "gatehouse_" + re.sub(r"[^A-Za-z0-9_-]", "_", gate)


def state_topic(gate: str) -> str:
    return f"{STATE}/{gate}/state"


def config_topic(component: str, gate: str, key: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/{component}/{node_id(gate)}/{key}/config"


def configs(gate: str, name: str | None, prefix: str = PREFIX) -> list[tuple[str, dict]]:
    """(topic, config) of every entity of one gate."""
    device = {"identifiers": [node_id(gate)], "name": f"门岗 Gate {name or gate}",
              "manufacturer": "Gatehouse", "model": "gate kiosk"}
    out = []
    for component, key, label, extra in ENTITIES:
        doc = {"name": label, "unique_id": f"{node_id(gate)}_{key}",
               "object_id": f"{node_id(gate)}_{key}", "state_topic": state_topic(gate),
               "value_template": "{{ value_json.%s }}" % key,
               "availability_topic": topics.HUB_STATUS, "payload_available": topics.ONLINE.decode(),
               "payload_not_available": topics.OFFLINE.decode(), "device": device, **extra}
        if component == "binary_sensor":
            doc.update(payload_on="ON", payload_off="OFF")
        out.append((config_topic(component, gate, key, prefix), doc))
    return out


def gate_states(db: sqlite_utils.Database, now: float,
                offline_after_s: float = 60.0) -> dict[str, dict]:
    """Every gate's state for HA, from the database (the overview's rules)."""
    zone = policy_versions.compound_zone(db)
    start = datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0,
                                                      microsecond=0).timestamp()
    today = presence.today_counts(db, start, start + 86400)["per_gate"]
    doors = {r["gate"] for r in db.query(
        "select distinct gate from alerts where acked_at is null and kind in (?, ?)",
        list(DOOR_KINDS))}
    out = {}
    for r in db.query("select id, online, heartbeat_at, heartbeat from gates "
                      "where retired_at is null order by id"):
        try:
            beat = json.loads(r["heartbeat"]) if r["heartbeat"] else {}
        except ValueError:
            beat = {}
        t = today.get(r["id"], {})
        on = is_online(r["online"], r["heartbeat_at"], now, offline_after_s)
        out[r["id"]] = {
            "online": "ON" if on else "OFF",
            "last_heartbeat": datetime.fromtimestamp(r["heartbeat_at"], zone).isoformat(
                timespec="seconds") if r["heartbeat_at"] else None,
            "backlog": beat.get("outbox"),
            "camera_problem": "OFF" if beat.get("camera_ok", True) else "ON",
            "door_problem": "ON" if r["id"] in doors else "OFF",
            **{f"{k}_today": t.get(k, 0) for k in ("entries", "exits", "refusals",
                                                    "referrals")}}
    return out


class HaPublisher:
    """Publish configs and state every REFRESH_S, states when they change, removals once."""

    def __init__(self, publish: Publish, prefix: str = PREFIX, offline_after_s: float = 60.0):
        self.publish, self.prefix, self.offline_after_s = publish, prefix, offline_after_s
        self._configured: dict[str, float] = {}
        self._last: dict[str, str] = {}

    def run(self, db: sqlite_utils.Database, now: float) -> int:
        """One pass; how many messages went out."""
        sent = 0
        names = {r["id"]: r["name"] for r in db.query("select id, name from gates")}
        for gate, state in gate_states(db, now, self.offline_after_s).items():
            if now - self._configured.get(gate, -REFRESH_S) >= REFRESH_S:
                if not all(self._send(t, json.dumps(doc, ensure_ascii=False))
                           for t, doc in configs(gate, names.get(gate), self.prefix)):
                    continue
                self._configured[gate] = now
                self._last.pop(gate, None)      # the state goes again with its configs
                sent += len(ENTITIES)
            raw = json.dumps(state, ensure_ascii=False, sort_keys=True)
            if self._last.get(gate) != raw and self._send(state_topic(gate), raw):
                self._last[gate] = raw
                sent += 1
        for r in db.query("select id from gates where retired_at is not null"):
            key = "retired:" + r["id"]
            if key not in self._configured and all(
                    self._send(t, "") for t, _ in configs(r["id"], None, self.prefix)):
                self._configured[key] = now     # an empty retained config removes it
                sent += len(ENTITIES)
        return sent

    def _send(self, topic: str, text: str) -> bool:
        return bool(self.publish(topic, text.encode(), True))


def ha_worker(db_path: Path, publish: Publish, interval: float = 10.0,
              clock: Callable[[], float] = time.time, prefix: str = PREFIX) -> Periodic:
    """Keep HA's view of the gates every `interval` s (hub serve's root)."""
    pub = HaPublisher(publish, prefix)
    return Periodic("hub-ha-discovery", pub.run, interval, clock=clock, db_path=db_path,
                    wait_first=False)
