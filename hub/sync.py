"""The hub's MQTT side (the only paho import on the hub): ingest, acks, bundle, time.

It names no feature: a feature that needs the hub's one MQTT client is wired to it in
`hub serve`'s composition root (hub/app_serve.py). It subscribes a topic filter with
`route` (its messages go to that handler, everything else to ingest) and hears every
connect through `when_connected` (the parcel shelves' manifest, hub/parcels/manifest.py;
the district link, hub/district_uplink.py).

Messages are acknowledged to the broker (manual_ack) and to the gate (ack topic)
only after the hub's SQLite commit, so a hub killed mid-ingest loses nothing: the
broker redelivers what was never acknowledged, and the gates resend what the hub
never confirmed. paho's callbacks only queue; a writer thread takes whatever has
queued (up to 500 messages) into one transaction, which measured 4-5x faster than
committing inside on_message and keeps paho's network loop free. It never waits for
more: while it commits, the next batch queues (bench/sync/: waiting 100 ms for
more halved a gate's rate, as the gate waits for acks before it sends more).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gatehouse import topics
from gatehouse.bundle import seal_time
from gatehouse.codes import cose
from gatehouse.codes.keys import SigningKey
from gatehouse.events import dump
from gatehouse.net import close_client, nodelay
from gatehouse.signed_files import file_mark
from hub import policy_versions, schema
from hub.event_handlers import EventHandlers
from hub.ingest import Incoming, ingest

log = logging.getLogger(__name__)
SESSION_EXPIRY_S = 7 * 86400
# How often the bundle file is checked for a new version: a stat() every 5 ms costs
# about 1% of a core and takes the hub's share of a bundle's way to the gates to a
# few ms (at 50 ms it was most of the 100 ms p99; docs/performance-sync.md).
BUNDLE_POLL_S = 0.005
# What a route's handler is given: topic, payload, and the broker's acknowledgement to
# call once the message is handled (None for QoS 0).
RouteHandler = Callable[[str, bytes, Callable[[], object] | None], None]


@dataclass(frozen=True)
class SyncConfig:
    host: str
    port: int
    password: str
    username: str = "hub"
    batch_max: int = 500
    beacon_s: float = 5.0


def bundle_version(blob: bytes) -> int:
    """The version of a bundle the hub itself wrote (its signature was made here)."""
    try:
        return int(cose.strict_loads(cose.parse1(blob).payload)["version"])
    except (ValueError, KeyError, TypeError):
        return 0


@dataclass(frozen=True)
class Route:
    topic_filter: str
    qos: int
    handler: RouteHandler


@dataclass(frozen=True)
class SyncHealth:
    dead: list[str]          # names of its threads that are no longer alive
    ingested: int            # events stored since start
    waiting: int             # messages received, not yet written
    connected: bool


class HubSync:
    def __init__(self, config: SyncConfig, db_path: Path, bundle_path: Path,
                 key: SigningKey, handlers: EventHandlers):
        self.config = config
        self.handlers = handlers  # what each stored event changes (hub/features.py)
        self.db_path = db_path
        self.bundle_path = bundle_path
        self.key = key
        self.connected = threading.Event()
        self.ingested = 0
        self.bundle_version = 0
        self._inbox: queue.SimpleQueue[Incoming] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._republish = threading.Event()
        self._threads = [threading.Thread(target=self._write, name="hub-ingest", daemon=True),
                         threading.Thread(target=self._publish, name="hub-publish",
                                          daemon=True)]
        self._routes: list[Route] = []
        self._connect_hooks: list[Callable[[], None]] = []
        self.client = self._make_client()

    # Wiring (before `start`) -------------------------------------------------

    def route(self, topic_filter: str, qos: int, handler: RouteHandler) -> None:
        """Send what arrives on `topic_filter` to `handler` instead of ingest; subscribed
        on every connect. The handler runs on paho's thread: it only queues."""
        self._routes.append(Route(topic_filter, qos, handler))

    def when_connected(self, hook: Callable[[], None]) -> None:
        """Call `hook` (on paho's thread) after every connect, once subscribed."""
        self._connect_hooks.append(hook)

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gatehouse-hub",
                             protocol=mqtt.MQTTv5, manual_ack=True)
        client.username_pw_set(self.config.username, self.config.password)
        client.will_set(topics.HUB_STATUS, topics.OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(1, 5)
        client.max_inflight_messages_set(200)
        client.on_socket_open = nodelay
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *a: self.connected.clear()
        client.on_message = self._on_message
        return client

    def _on_message(self, client, userdata, m) -> None:
        for r in self._routes:
            if mqtt.topic_matches_sub(r.topic_filter, m.topic):
                mid, qos = m.mid, m.qos
                r.handler(m.topic, m.payload, (lambda: client.ack(mid, qos)) if qos else None)
                return
        self._inbox.put(Incoming(m.topic, m.payload, time.time(), (m.mid, m.qos)))

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the hub: %s", reason_code)
            return
        client.publish(topics.HUB_STATUS, topics.ONLINE, qos=1, retain=True)
        client.subscribe([(topics.GATE_ANY_EVENTS, 1), (topics.GATE_ANY_STATUS, 1),
                          (topics.GATE_ANY_HEARTBEAT, 0)])
        if self._routes:
            client.subscribe([(r.topic_filter, r.qos) for r in self._routes])
        self.connected.set()
        self._republish.set()
        for hook in self._connect_hooks:
            hook()

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        # A persistent session: what gates send while the hub is down waits in the broker.
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.config.host, self.config.port, keepalive=15,
                                  clean_start=False, properties=props)
        self.client.loop_start()
        for t in self._threads:
            t.start()

    def health(self) -> SyncHealth:
        """What `hub serve`'s watchdog loop checks (hub/app_serve.py)."""
        return SyncHealth(dead=[t.name for t in self._threads if not t.is_alive()],
                          ingested=self.ingested, waiting=self._inbox.qsize(),
                          connected=self.connected.is_set())

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        try:
            self.client.publish(topics.HUB_STATUS, topics.OFFLINE, qos=1,
                                retain=True).wait_for_publish(1.0)
        except (RuntimeError, ValueError):
            pass
        close_client(self.client)

    # Ingest -----------------------------------------------------------------

    def _write(self) -> None:
        db = schema.open_db(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    first = self._inbox.get(timeout=0.2)
                except queue.Empty:
                    continue
                batch = [first]
                while len(batch) < self.config.batch_max:
                    try:
                        batch.append(self._inbox.get_nowait())
                    except queue.Empty:
                        break
                try:
                    result = ingest(db, batch, policy_versions.current_policy(db), self.handlers)
                except Exception:
                    # Locked for long, disk full: acknowledge nothing (the broker and the
                    # gates will deliver it again), keep the batch, try again shortly.
                    log.exception("ingest failed; %d messages kept for a retry", len(batch))
                    for m in batch:
                        self._inbox.put(m)
                    self._stop.wait(1.0)
                    continue
                # Committed: now, and only now, tell the broker and the gates.
                for m in batch:
                    mid, qos = m.token
                    if qos:
                        self.client.ack(mid, qos)
                for gate, ack in result.acks:
                    self.client.publish(topics.gate_ack(gate), dump(ack), qos=1)
                self.ingested += result.stored
                if result.quarantined or result.conflicts:
                    log.warning("ingest: %d quarantined, %d conflicts", result.quarantined,
                                result.conflicts)
        finally:
            db.close()

    # Bundle and time --------------------------------------------------------

    def _publish(self) -> None:
        while not self._stop.is_set():
            try:
                self._publish_loop()
            except Exception:  # a bundle file being replaced, a full disk: keep publishing
                log.exception("bundle/time publisher failed; restarting it")
                self._stop.wait(1.0)

    def _publish_loop(self) -> None:
        seen: tuple | None = None
        next_beacon = 0.0
        while not self._stop.is_set():
            if self.connected.is_set():
                mark = file_mark(self.bundle_path)
                if mark and (mark != seen or self._republish.is_set()):
                    self._republish.clear()
                    seen = mark
                    blob = self.bundle_path.read_bytes()
                    self.bundle_version = bundle_version(blob)
                    self.client.publish(topics.HUB_BUNDLE, blob, qos=1, retain=True)
                now = time.time()
                if now >= next_beacon:
                    next_beacon = now + self.config.beacon_s
                    self.client.publish(topics.HUB_TIME,
                                        seal_time(now, self.key, self.bundle_version), qos=0)
            self._stop.wait(BUNDLE_POLL_S)
