"""The alert topic for automations: each alert as its kind and gate, never a person.

A siren at the office, a Home Assistant automation or a night-duty dashboard subscribes
to `gatehouse/hub/alerts/<gate>` and gets, for every alert the hub raises, one QoS 1
message (not retained):

    {"v": 1, "id": 42, "kind": "door_forced", "label": "门被强行打开 Door forced",
     "gate": "gate-north", "at": 1796297293.6}

No name, household, phone, waybill or reference: what an alert's detail carries stays
in the hub (the office reads it on its page). Gates cannot read these topics (the
broker's ACL lets them read only the bundle, the time, the hub's status and their own
acks). Alerts are read after a cursor in `meta`, like alert delivery; the first run
starts ten minutes back, and a message the client did not take is offered again on
the next pass.

    worker = alert_topic_worker(home.hub_db,
                                lambda topic, raw: sync.client.publish(topic, raw, qos=1).rc == 0)
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlite_utils
from pydantic import BaseModel, ConfigDict

from gatehouse import topics
from hub import meta
from hub.alert_kinds import label_of
from hub.periodic import Periodic

PREFIX = f"{topics.ROOT}/hub/alerts"
ANY = f"{PREFIX}/+"
CURSOR = "alert_topic.cursor"
FIRST_RUN_S = 600.0
BATCH = 500

Publish = Callable[[str, bytes], bool]


class AlertNotice(BaseModel):
    """One alert on the topic: what and where, nothing about whom."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: int = 1
    id: int
    kind: str
    label: str
    gate: str
    at: float


def topic_of(gate: str) -> str:
    """The topic of one gate's alerts; a gate id never holds MQTT's wildcards or '/'
    (gatehouse.topics.GATE_ID), the hub's own alerts go to `…/hub`."""
    return f"{PREFIX}/{gate if topics.GATE_ID.match(gate or '') else 'hub'}"


def publish_new(db: sqlite_utils.Database, publish: Publish, now: float) -> int:
    """Publish the alerts raised since the last pass, in order; how many went out. The
    cursor moves past each one the client took, and stops at the first it refused."""
    cursor = meta.get_meta(db, CURSOR)
    if cursor is None:
        cursor = db.execute("select coalesce(max(id), 0) from alerts where at < ?",
                            [now - FIRST_RUN_S]).fetchone()[0]
        meta.set_meta(db, CURSOR, str(cursor))
    sent = 0
    for a in db.query("select id, at, gate, kind from alerts where id > ? order by id "
                      "limit ?", [int(cursor), BATCH]):
        notice = AlertNotice(id=a["id"], kind=a["kind"], label=label_of(a["kind"]),
                             gate=a["gate"] or "", at=a["at"])
        if not publish(topic_of(notice.gate), notice.model_dump_json().encode()):
            break
        meta.set_meta(db, CURSOR, str(a["id"]))
        sent += 1
    return sent


def alert_topic_worker(db_path: Path, publish: Publish, interval: float = 1.0) -> Periodic:
    """Publish new alerts every `interval` s on its own connection (hub serve's root)."""
    return Periodic("hub-alert-topic", lambda db, now: publish_new(db, publish, now),
                    interval, db_path=db_path)
