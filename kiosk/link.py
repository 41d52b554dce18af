"""The gate's link to the hub over MQTT (the only paho import on the kiosk side).

Up: the outbox, in batches, QoS 1, until the hub acknowledges each row end to end
after its own commit (a PUBACK only means the broker holds it in memory). Rows not
acknowledged are sent again after a reconnect or a timeout; the hub ingests by event
id, so a resend is stored once. New events go ahead of an old backlog.
Down: the signed bundle (retained), acks, and the hub's signed time beacon; at a
parcel-area kiosk (role "parcels") also the signed shelf manifest (retained).

paho's callbacks only queue work; one worker thread owns the SQLite connection.
"""
from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gatehouse import topics
from gatehouse.bundle import BundleError, unseal, unseal_time
from gatehouse.codes.keys import TrustedKey
from gatehouse.endpoint import Endpoint
from gatehouse.events import (
    MAX_MESSAGE_BYTES,
    Ack,
    EventBatch,
    Heartbeat,
    WireError,
    dump,
    parse,
)
from gatehouse.home import write_atomic
from gatehouse.net import close_client, nodelay
from gatehouse.parcels import ManifestError, unseal_manifest
from kiosk.attempt_log import AttemptLog
from kiosk.clock import ClockJudge
from kiosk.manifest import manifest_version
from kiosk.outbox import Outbox

log = logging.getLogger(__name__)
MAX_BATCH_BYTES = MAX_MESSAGE_BYTES - 64 * 1024   # headroom under the broker's limit
SESSION_EXPIRY_S = 7 * 86400


class LinkRefused(Exception):
    """The gate will not connect as configured; the message says what to do."""


def broker_port(ep: Endpoint, ca_file: Path, tls: str = "auto") -> tuple[int, Path | None]:
    """The port to connect to and the CA to trust. A gate enrolled with the hub's CA
    uses TLS and never falls back to plain by itself: the password would cross the LAN
    in the clear. Plain only without TLS at enrollment or with broker_tls = "off"."""
    if ep.tls_port is None or tls == "off":
        return ep.port, None
    if not ca_file.exists():
        raise LinkRefused(f"enrolled for TLS but {ca_file} is missing: enroll this gate "
                          "again (or set broker_tls = \"off\" to connect in the clear)")
    return ep.tls_port, ca_file


@dataclass(frozen=True)
class LinkConfig:
    gate_id: str
    host: str
    port: int
    username: str
    password: str
    batch: int = 500                 # events per message
    window: int = 8                  # batches in flight before waiting for acks
    resend_after: float = 20.0       # seconds without an ack before sending again
    heartbeat_s: float = 10.0
    ca_file: Path | None = None      # TLS to the broker, trusting the hub's CA
    role: str = "gate"               # "parcels": also takes the hub's shelf manifest


@dataclass
class _Batch:
    first: int
    last: int
    sent: float


@dataclass
class LinkState:
    """What the screen and heartbeat show about the link."""

    connected: bool = False
    last_ack: float | None = None
    backlog: int = 0
    bundle_version: int = 0
    rejected_bundles: int = 0
    confirmed_at: float | None = None  # the hub's time when it said our bundle is current
    manifest_version: int = 0          # the shelf manifest saved (parcel-area kiosks)
    rejected_manifests: int = 0        # forged, broken or older than the one we hold
    extra: dict = field(default_factory=dict)


class HubLink:
    def __init__(self, config: LinkConfig, store_path: Path, bundle_path: Path,
                 hub_key: TrustedKey, clock: ClockJudge,
                 status: Callable[[], dict] | None = None,
                 current_bundle_version: Callable[[], int] = lambda: 0,
                 manifest_path: Path | None = None):
        if config.role == "parcels" and manifest_path is None:
            raise ValueError("a parcel-area kiosk needs a path for the shelf manifest")
        self.config = config
        self.store_path = store_path
        self.bundle_path = bundle_path
        self.manifest_path = manifest_path
        self.hub_key = hub_key
        self.clock = clock
        self.status = status or (lambda: {})
        self.current_bundle_version = current_bundle_version
        self.state = LinkState()
        if manifest_path is not None:  # never go back behind the copy saved before a restart
            self.state.manifest_version = manifest_version(manifest_path, hub_key)
        self._last_beacon = 0.0  # hub time of the last beacon accepted: never go back
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._work, name="hub-link", daemon=True)
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        c = self.config
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gate-{c.gate_id}",
                             protocol=mqtt.MQTTv5)
        client.username_pw_set(c.username, c.password)
        if c.ca_file is not None:  # the hub's CA only; the name in `host` must match
            client.tls_set(ca_certs=str(c.ca_file), cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.will_set(topics.gate_status(c.gate_id), topics.OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(1, 10)
        client.max_inflight_messages_set(c.window * 2)
        client.on_socket_open = nodelay
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *a: self._queue("down", None)
        client.on_message = lambda cl, ud, msg: self._queue("msg", (msg.topic, msg.payload))
        return client

    def _queue(self, what: str, arg) -> None:
        """Hand work to the worker and wake it now, not at its next 50 ms poll."""
        self._inbox.put((what, arg))
        self._wake.set()

    # paho's thread: no I/O here beyond paho's own calls ----------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        # Retained "online" here, not once at start: after a broker restart the
        # retained last-will "offline" would stay otherwise.
        client.publish(topics.gate_status(self.config.gate_id), topics.ONLINE, qos=1,
                       retain=True)
        wanted = [(topics.HUB_BUNDLE, 1), (topics.gate_ack(self.config.gate_id), 1),
                  (topics.HUB_TIME, 0)]
        if self.config.role == "parcels":
            wanted.append((topics.HUB_PARCELS, 1))
        client.subscribe(wanted)
        self._queue("up", None)

    # Life cycle -------------------------------------------------------------

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(self.config.host, self.config.port, keepalive=15,
                                   clean_start=False, properties=props)
        self._client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5)
        try:
            self._client.publish(topics.gate_status(self.config.gate_id), topics.OFFLINE,
                                 qos=1, retain=True).wait_for_publish(1.0)
        except (RuntimeError, ValueError):
            pass  # not connected: the broker's last will says offline for us
        close_client(self._client)

    # The worker -------------------------------------------------------------

    def _work(self) -> None:
        log_file = AttemptLog(self.store_path)
        store = log_file.outbox
        inflight: dict[int, _Batch] = {}
        next_beat = 0.0
        try:
            while not self._stop.is_set():
                while True:
                    try:
                        what, arg = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if what == "up":
                        self.state.connected = True
                        self._rewind(store, inflight)
                        next_beat = 0.0
                        log.info("connected to the hub's broker; backlog %d", store.backlog())
                    elif what == "down":
                        if self.state.connected:
                            log.warning("lost the broker; events wait in the outbox")
                        self.state.connected = False
                    elif what == "msg":
                        self._message(store, inflight, *arg)
                now = time.monotonic()
                if self.state.connected:
                    self._fill(store, inflight, now)
                    if now >= next_beat:
                        next_beat = now + self.config.heartbeat_s
                        self._heartbeat(store)
                self.state.backlog = store.backlog()
                self._wake.wait(0.05)
                self._wake.clear()
        finally:
            log_file.close()

    def _rewind(self, store: Outbox, inflight: dict[int, _Batch]) -> None:
        """Send every unacknowledged row again, from the start (the hub drops repeats)."""
        inflight.clear()
        self._live_mark = self._live_sent = store.last_seq()
        self._backlog_sent = 0

    def _fill(self, store: Outbox, inflight: dict[int, _Batch], now: float) -> None:
        """Keep up to `window` batches in flight: events since we connected first."""
        if any(now - b.sent > self.config.resend_after for b in inflight.values()):
            log.warning("no ack for %.0f s: sending the unacknowledged rows again",
                        self.config.resend_after)
            self._rewind(store, inflight)
        while len(inflight) < self.config.window:
            live = store.pending(self._live_sent, self.config.batch)
            if live:
                events = self._send(live)
                self._live_sent = events[-1].seq
            else:
                backlog = [e for e in store.pending(self._backlog_sent, self.config.batch)
                           if e.seq <= self._live_mark]
                if not backlog:
                    return
                events = self._send(backlog)
                self._backlog_sent = events[-1].seq
            inflight[events[0].seq] = _Batch(events[0].seq, events[-1].seq, now)

    def _send(self, events: list) -> list:
        """Publish the longest head of `events` that fits one message; returns it."""
        while True:
            batch = EventBatch(gate=self.config.gate_id, sent_at=time.time(), events=events)
            data = dump(batch)
            # The broker disconnects a client whose message is over its limit: halve.
            if len(data) <= MAX_BATCH_BYTES or len(events) == 1:
                break
            events = events[:len(events) // 2]
        self._client.publish(topics.gate_events(self.config.gate_id), data, qos=1)
        return events

    def _message(self, store: Outbox, inflight: dict[int, _Batch], topic: str,
                 payload: bytes) -> None:
        if topic == topics.gate_ack(self.config.gate_id):
            try:
                ack = parse(Ack, payload)
            except WireError as exc:
                log.warning("ignoring a bad ack: %s", exc)
                return
            store.mark_acked(ack.ranges, time.time())
            for first, last in ack.ranges:
                for key in [k for k, b in inflight.items() if b.first >= first and b.last <= last]:
                    del inflight[key]
            self.state.last_ack = time.time()
        elif topic == topics.HUB_BUNDLE:
            self._bundle(payload)
        elif topic == topics.HUB_PARCELS and self.manifest_path is not None:
            self._manifest(payload)
        elif topic == topics.HUB_TIME:
            try:
                hub_time, version = unseal_time(payload, self.hub_key)
            except BundleError as exc:
                log.warning("ignoring a time beacon: %s", exc)
                return
            if hub_time <= self._last_beacon:
                log.warning("ignoring a time beacon older than the last one (a replay?)")
                return
            self._last_beacon = hub_time
            self.clock.note_hub_time(hub_time, time.time())
            if version and version == self.current_bundle_version():
                self.state.confirmed_at = hub_time  # our data is current as of now

    def _bundle(self, payload: bytes) -> None:
        """Verify a bundle from the broker and keep it if it is newer than ours."""
        try:
            bundle = unseal(payload, self.hub_key)
        except BundleError as exc:
            self.state.rejected_bundles += 1
            log.error("refused a bundle: %s", exc)
            return
        if bundle.version <= self.current_bundle_version():
            return  # an older or the same version: never go back
        write_atomic(self.bundle_path, payload)
        self.state.bundle_version = bundle.version
        log.info("bundle version %d received", bundle.version)

    def _manifest(self, payload: bytes) -> None:
        """Verify a shelf manifest and keep it if it is newer than the one saved."""
        try:
            manifest = unseal_manifest(payload, self.hub_key)
        except ManifestError as exc:
            self.state.rejected_manifests += 1
            log.error("refused a shelf manifest: %s", exc)
            return
        if manifest.version == self.state.manifest_version:
            return  # the retained copy again, after a reconnect
        if manifest.version < self.state.manifest_version:
            self.state.rejected_manifests += 1
            log.error("refused a shelf manifest: version %d is older than %d (a replay?)",
                      manifest.version, self.state.manifest_version)
            return
        write_atomic(self.manifest_path, payload)
        self.state.manifest_version = manifest.version
        log.info("shelf manifest version %d received: %d parcels", manifest.version,
                 len(manifest.parcels))

    def _heartbeat(self, store: Outbox) -> None:
        s = self.status()
        clock = self.clock.state()
        beat = Heartbeat(gate=self.config.gate_id, at=time.time(), outbox=store.backlog(),
                         bundle_version=s.get("bundle_version", 0),
                         policy_version=s.get("policy_version", 0),
                         clock_trusted=clock["trusted"], clock_offset=clock["offset"],
                         fps=s.get("fps", 0.0), decoder=s.get("decoder", ""),
                         camera_ok=s.get("camera_ok", True), direction=s.get("direction", "in"),
                         pins=str(s.get("pins", ""))[:80],
                         manifest_version=self.state.manifest_version
                         if self.config.role == "parcels" else None,
                         tls=self.config.ca_file is not None)
        self._client.publish(topics.gate_heartbeat(self.config.gate_id), dump(beat), qos=0)

    def wake(self) -> None:
        """A new outbox row: send it now rather than at the next poll."""
        self._wake.set()
