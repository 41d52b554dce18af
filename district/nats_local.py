"""The district's broker: nats-server with JetStream and its MQTT listener, one node or
three (docs/district.md). Config text, the process, and the stream the workers read.

Each compound's Mosquitto bridge logs in over MQTT as the compound id; MQTT topic
`district/<cid>/gatehouse/hub/district/feed` is NATS subject
`district.<cid>.gatehouse.hub.district.feed`, which the stream GATEHOUSE_UP keeps until
a worker has committed it. Down, a core-NATS publish on `district.<cid>.down.ack`
reaches the bridge's MQTT subscription `district/<cid>/down/#`.
"""
from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gatehouse.district_wire import COMPOUND_ID
from gatehouse.processes import LOOPBACK, Process, port_open, wait_until

STREAM = "GATEHOUSE_UP"
STREAM_SUBJECTS = "district.*.gatehouse.hub.district.>"
CONSUMER = "ingest"
SERVICE_USER = "district"
CLUSTER_NAME = "district"
# A hub resends what stays unacknowledged (minutes); JetStream drops a message whose
# Nats-Msg-Id it saw within this window. Feed dedup is the database's job anyway.
DUPLICATE_WINDOW_S = 120
MAX_PAYLOAD = 4 * 1024 * 1024   # a FeedBatch is at most 1 MiB (events.MAX_MESSAGE_BYTES)
# The stream's bound on disk (a street's day is ~300 MB): when full, new messages are
# refused, not old ones dropped; the hubs keep theirs and send again.
STREAM_MAX_BYTES = 8 * 1024**3


def connect_options(urls: list[str]) -> dict:
    """nats.connect() keywords for URLs carrying the login (nats://user:pw@host:port).

    The login goes as user/password, not inside the URLs: the client also connects to
    servers the cluster tells it about, and those come without one ("Authorization
    Violation" on every reconnect after a node's loss)."""
    servers, user, password = [], None, None
    for url in urls:
        parts = urlsplit(url)
        if parts.username:
            user, password = unquote(parts.username), unquote(parts.password or "")
        host = parts.hostname or LOOPBACK
        servers.append(f"{parts.scheme}://{host}:{parts.port or 4222}")
    return {"servers": servers, "user": user, "password": password}


def subject_up(cid: str, leaf: str) -> str:
    return f"district.{cid}.gatehouse.hub.district.{leaf}"


def subject_down(cid: str, leaf: str) -> str:
    return f"district.{cid}.down.{leaf}"


@dataclass(frozen=True)
class Peer:
    """One node of the district broker as the others reach it."""

    host: str
    client_port: int
    cluster_port: int
    mqtt_port: int


@dataclass
class NodeConfig:
    """What one nats-server node needs. `peers` is every node (this one included) in a
    three-node cluster, empty for a district on one machine."""

    name: str
    store_dir: Path
    client_port: int
    mqtt_port: int
    service_password: str
    compounds: dict[str, str] = field(default_factory=dict)   # compound id -> password
    listen_host: str = LOOPBACK   # clients (workers) and routes
    mqtt_host: str = ""           # the compounds' bridges (default: listen_host)
    pid_file: Path | None = None  # for `district compound add` to signal a reload
    mqtt_tls: tuple[Path, Path] | None = None   # (certificate, key) for the bridges' TLS
    cluster_port: int = 0
    peers: list[Peer] = field(default_factory=list)
    route_password: str = ""
    http_port: int = 0   # the monitoring port (loopback only), 0 for none

    @property
    def replicas(self) -> int:
        return max(1, len(self.peers))


def _q(text: str) -> str:
    return json.dumps(text)   # a JSON string is a quoted string in NATS config syntax


def _user(name: str, password: str, pub: list[str] | None, sub: list[str] | None) -> str:
    perms = ""
    if pub is not None:
        # A compound logs in over MQTT only: a plain NATS login could subscribe to the
        # $MQTT.sub.> delivery subjects of the other compounds' sessions.
        perms = (f", permissions: {{publish: {{allow: {json.dumps(pub)}}}, "
                 f"subscribe: {{allow: {json.dumps(sub)}}}}}, "
                 f"allowed_connection_types: [\"MQTT\"]")
    return f"    {{user: {_q(name)}, password: {_q(password)}{perms}}}"


UP_LEAVES = ("feed", "status", "reports")   # gatehouse/hub/district/<leaf> at the hub


def compound_permissions(cid: str) -> tuple[list[str], list[str]]:
    """(publish, subscribe) of a compound's login: its three subjects up, its own down.

    nats-server 2.9 creates the session's streams from its own internal client, but a
    QoS 1 subscription is delivered through a JetStream consumer on `$MQTT.sub.<nuid>`,
    which the login itself subscribes to: without it the bridge's `district/<cid>/down/#`
    fails ("Subscription Violation ... $MQTT.sub...") and nothing comes down. MQTT's
    `#` also matches its parent level, so `down/#` is `down.>` and `down` both.
    (tests/test_district_worker_broker.py bridges a real Mosquitto with these.)"""
    # Publish: the three leaves a hub sends on, nothing else under its prefix: each MQTT
    # topic may keep a retained message for ever ($MQTT_rmsgs), one topic more a message.
    return ([subject_up(cid, leaf) for leaf in UP_LEAVES],
            [f"district.{cid}.down", f"district.{cid}.down.>", "$MQTT.sub.>"])


def users_block(service_password: str, compounds: dict[str, str]) -> str:
    """The `authorization` block: the service user (workers, sender, web) may do
    anything; a compound only its own subjects."""
    lines = [_user(SERVICE_USER, service_password, None, None)]
    for cid, password in sorted(compounds.items()):
        if not COMPOUND_ID.match(cid):
            raise ValueError(f"bad compound id {cid!r}")
        pub, sub = compound_permissions(cid)
        lines.append(_user(cid, password, pub, sub))
    return "authorization {\n  users: [\n" + "\n".join(lines) + "\n  ]\n}\n"


def _tls(pair: tuple[Path, Path] | None) -> str:
    # The bridges' password crosses the street's network: TLS when the office has a
    # certificate (a bridge checks it with `hub district link --cafile`).
    if pair is None:
        return ""
    return f", tls {{ cert_file: {_q(str(pair[0]))}, key_file: {_q(str(pair[1]))} }}"


def config_text(cfg: NodeConfig) -> str:
    """nats-server config of one node (the file is 0600: it holds passwords)."""
    host = cfg.listen_host
    text = [
        "# Written by `district` (district/nats_local.py); edits by hand are lost.",
        f"server_name: {_q(cfg.name)}",
        f"listen: {_q(f'{host}:{cfg.client_port}')}",
        f"max_payload: {MAX_PAYLOAD}",
        f"jetstream {{ store_dir: {_q(str(cfg.store_dir))} }}",
        # MQTT sessions of the bridges live in JetStream too ($MQTT_sess, $MQTT_msgs):
        # replicated like the stream so a node's loss keeps them.
        f"mqtt {{ listen: {_q(f'{cfg.mqtt_host or host}:{cfg.mqtt_port}')}, "
        f"stream_replicas: {cfg.replicas}, ack_wait: \"30s\"{_tls(cfg.mqtt_tls)} }}",
    ]
    if cfg.pid_file:
        text.append(f"pid_file: {_q(str(cfg.pid_file))}")
    if cfg.http_port:
        text.append(f"http: {_q(f'{LOOPBACK}:{cfg.http_port}')}")
    if cfg.peers:
        auth = f"{CLUSTER_NAME}:{cfg.route_password}@" if cfg.route_password else ""
        routes = [f"nats-route://{auth}{p.host}:{p.cluster_port}" for p in cfg.peers
                  if p.cluster_port != cfg.cluster_port or p.host != host]
        cauth = (f" authorization: {{ user: {_q(CLUSTER_NAME)}, "
                 f"password: {_q(cfg.route_password)} }}," if cfg.route_password else "")
        text.append(f"cluster {{ name: {_q(CLUSTER_NAME)}, "
                    f"listen: {_q(f'{host}:{cfg.cluster_port}')},{cauth} "
                    f"routes: {json.dumps(routes)} }}")
    return "\n".join(text) + "\n" + users_block(cfg.service_password, cfg.compounds)


def reload_running(pid_file: Path) -> bool:
    """Have a running nats-server read its config again (SIGHUP); False if none runs."""
    try:
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGHUP)
    except (OSError, ValueError, IndexError):
        return False
    return True


def write_config(cfg: NodeConfig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(config_text(cfg))
    os.replace(tmp, path)
    return path


class NatsNode(Process):
    """A nats-server process of one node, started from its written config."""

    def __init__(self, cfg: NodeConfig, conf: Path, log: Path):
        write_config(cfg, conf)
        super().__init__(["nats-server", "-c", conf], log, name=f"nats-{cfg.name}")
        self.cfg, self.conf = cfg, conf

    @property
    def url(self) -> str:
        return f"nats://{SERVICE_USER}:{self.cfg.service_password}@{LOOPBACK}:" \
               f"{self.cfg.client_port}"

    def start(self, timeout: float = 20) -> NatsNode:
        super().start()
        try:
            wait_until(lambda: (port_open(self.cfg.client_port)
                                and port_open(self.cfg.mqtt_port)) or not self.running(),
                       timeout, message=f"nats-server {self.cfg.name} to listen")
            if not self.running():
                raise RuntimeError(f"nats-server exited:\n{self.tail()}")
        except BaseException:
            self.stop()
            raise
        return self

    def reload(self, cfg: NodeConfig) -> None:
        """Rewrite the config (a compound added) and have the running server read it."""
        self.cfg = cfg
        write_config(cfg, self.conf)
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)


async def ensure_stream(nc, replicas: int, ack_wait: float = 30) -> None:
    """Create (or bring up to date) the stream GATEHOUSE_UP and the consumer `ingest`.
    `ack_wait`: how long a fetched message may stay unacknowledged before it goes to
    another worker (a killed worker's batch comes back after it)."""
    from nats.js.api import (AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy,
                             RetentionPolicy, StorageType, StreamConfig)
    from nats.js.errors import NotFoundError

    js = nc.jetstream()
    config = StreamConfig(
        name=STREAM, subjects=[STREAM_SUBJECTS], storage=StorageType.FILE,
        num_replicas=replicas, duplicate_window=DUPLICATE_WINDOW_S,
        # Work queue: a message is gone once a worker acked it (after its commit).
        retention=RetentionPolicy.WORK_QUEUE, max_msg_size=MAX_PAYLOAD,
        max_bytes=STREAM_MAX_BYTES, discard=DiscardPolicy.NEW)
    try:
        await js.stream_info(STREAM)
        await js.update_stream(config)
    except NotFoundError:
        await js.add_stream(config)
    await js.add_consumer(STREAM, ConsumerConfig(
        durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait, max_ack_pending=20_000,
        num_replicas=replicas))
