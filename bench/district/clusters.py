"""The two engines as real processes on loopback: NATS (Debian's nats-server: routes,
JetStream, an MQTT listener per node) and RabbitMQ (Debian's rabbitmq-server: distinct
node names, ports and one cookie, the MQTT plugin enabled offline by a plugins file,
a quorum queue bound to amq.topic). One node or three. Each node's broker pid is known,
so it can be measured (/proc) and killed with -9."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from gatehouse.processes import LOOPBACK, Process, free_port, port_open, wait_until

STREAM = "GATEHOUSE_UP"
SUBJECTS = "district.*.gatehouse.hub.district.>"
CONSUMER = "ingest"
QUEUE = "gatehouse_up"
ROUTING_KEY = "district.*.gatehouse.hub.district.#"  # amq.topic: MQTT '/' becomes '.'
RABBIT_SBIN = Path("/usr/lib/rabbitmq/lib")


@dataclass
class Node:
    name: str
    mqtt_port: int
    client_port: int        # NATS client port / AMQP port
    proc: Process | None = None
    extra: dict = field(default_factory=dict)

    def pid(self) -> int | None:
        return self.proc.proc.pid if self.proc and self.proc.proc else None

    def rss_kib(self) -> int:
        """Resident set (VmRSS) of the broker process now, KiB."""
        return _status_kib(self.pid(), "VmRSS")

    def hwm_kib(self) -> int:
        return _status_kib(self.pid(), "VmHWM")


def _status_kib(pid: int | None, key: str) -> int:
    if not pid:
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process so far (s)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class NatsCluster:
    engine = "nats"

    def __init__(self, root: Path, size: int):
        self.root, self.size = Path(root) / f"nats{size}", size
        self.nodes = [Node(f"n{i + 1}", free_port(), free_port(), extra={"route": free_port()})
                      for i in range(size)]

    def urls(self) -> list[str]:
        return [f"nats://{LOOPBACK}:{n.client_port}" for n in self.nodes]

    def mqtt(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, n.mqtt_port) for n in self.nodes]

    def _conf(self, node: Node) -> str:
        store = self.root / node.name / "js"
        conf = [f'server_name: "{node.name}"', f"listen: {LOOPBACK}:{node.client_port}",
                f'jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 4GB }}',
                f"mqtt {{ listen: {LOOPBACK}:{node.mqtt_port}"
                + (", stream_replicas: 3 }" if self.size > 1 else " }")]
        if self.size > 1:
            routes = ", ".join(f"nats-route://{LOOPBACK}:{n.extra['route']}" for n in self.nodes
                               if n is not node)
            conf.append(f'cluster {{ name: "district", listen: {LOOPBACK}:{node.extra["route"]}, '
                        f"routes: [{routes}] }}")
        return "\n".join(conf) + "\n"

    def start_node(self, node: Node) -> None:
        d = self.root / node.name
        d.mkdir(parents=True, exist_ok=True)
        (d / "nats.conf").write_text(self._conf(node))
        node.proc = Process(["nats-server", "-c", d / "nats.conf"], d / "log.txt",
                            name=f"nats-{node.name}", die_with_parent=True).start()

    def start(self) -> NatsCluster:
        for n in self.nodes:
            self.start_node(n)
        for n in self.nodes:
            wait_until(lambda n=n: port_open(n.mqtt_port), 30, 0.1, f"NATS {n.name} MQTT port")
        self._stream()
        return self

    def _stream(self) -> None:
        import asyncio

        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

        async def setup() -> None:
            nc = await nats.connect(servers=self.urls())
            js = nc.jetstream(timeout=10)
            deadline = time.monotonic() + 60
            while True:  # a new cluster elects its meta leader first
                try:
                    await js.add_stream(StreamConfig(
                        name=STREAM, subjects=[SUBJECTS], storage=StorageType.FILE,
                        num_replicas=self.size, max_msg_size=1 << 20))
                    await js.add_consumer(STREAM, ConsumerConfig(
                        durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=30, max_ack_pending=1000))
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            await nc.close()
        asyncio.run(setup())

    def leader(self) -> Node:
        """The node leading the stream (killing it is the harder case)."""
        import asyncio

        import nats

        async def ask() -> str:
            nc = await nats.connect(servers=self.urls())
            info = await nc.jetstream().stream_info(STREAM)
            await nc.close()
            return info.cluster.leader if info.cluster else self.nodes[0].name
        name = asyncio.run(ask())
        return next(n for n in self.nodes if n.name == name)

    def backlog(self) -> int:
        import asyncio

        import nats

        async def ask() -> int:
            nc = await nats.connect(servers=self.urls(), connect_timeout=2)
            info = await nc.jetstream(timeout=5).consumer_info(STREAM, CONSUMER)
            await nc.close()
            return info.num_pending + info.num_ack_pending
        return asyncio.run(ask())

    def kill9(self, node: Node) -> None:
        node.proc.proc.send_signal(signal.SIGKILL)
        node.proc.proc.wait(10)

    def stop(self) -> None:
        for n in self.nodes:
            if n.proc:
                n.proc.stop()


class RabbitCluster:
    """RabbitMQ nodes rabbitN@localhost, each with its own ports, data and log folders,
    one Erlang cookie (HOME/.erlang.cookie) and one epmd on a free port (ERL_EPMD_PORT,
    started here so nothing is left behind)."""

    engine = "rabbitmq"

    def __init__(self, root: Path, size: int):
        self.root, self.size = Path(root) / f"rabbit{size}", size
        self.epmd_port = free_port()
        self.nodes = [Node(f"rabbit{i + 1}", free_port(), free_port(),
                           extra={"dist": free_port()}) for i in range(size)]
        self.epmd: Process | None = None

    def sbin(self) -> Path:
        found = sorted(RABBIT_SBIN.glob("rabbitmq_server-*/sbin"))
        if not found:
            raise RuntimeError("RabbitMQ is not installed (Debian: apt-get install rabbitmq-server)")
        return found[-1]

    def urls(self) -> list[str]:
        return [f"amqp://guest:guest@{LOOPBACK}:{n.client_port}/%2F" for n in self.nodes]

    def mqtt(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, n.mqtt_port) for n in self.nodes]

    def _env(self, node: Node) -> dict[str, str]:
        d = self.root / node.name
        return {"HOME": str(self.root), "ERL_EPMD_PORT": str(self.epmd_port),
                "RABBITMQ_NODENAME": f"{node.name}@localhost",
                "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK, "RABBITMQ_NODE_PORT": str(node.client_port),
                "RABBITMQ_DIST_PORT": str(node.extra["dist"]),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
                "RABBITMQ_PID_FILE": str(d / "pid"), "RABBITMQ_LOGS": "-",
                # exec erl directly (no proxy shell): the pid we hold is beam.smp's
                "RUNNING_UNDER_SYSTEMD": "true"}

    def _conf(self, node: Node) -> str:
        conf = [f"listeners.tcp.1 = {LOOPBACK}:{node.client_port}",
                f"mqtt.listeners.tcp.1 = {LOOPBACK}:{node.mqtt_port}",
                "mqtt.allow_anonymous = true", "mqtt.vhost = /", "mqtt.exchange = amq.topic",
                "loopback_users = none", "management_agent.disable_metrics_collector = true"]
        if self.size > 1:
            conf.append("cluster_formation.peer_discovery_backend = classic_config")
            conf += [f"cluster_formation.classic_config.nodes.{i + 1} = {n.name}@localhost"
                     for i, n in enumerate(self.nodes)]
        return "\n".join(conf) + "\n"

    def start_node(self, node: Node) -> None:
        d = self.root / node.name
        d.mkdir(parents=True, exist_ok=True)
        (d / "rabbitmq.conf").write_text(self._conf(node))
        (d / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (d / "advanced.config").write_text("[].\n")
        node.proc = Process([self.sbin() / "rabbitmq-server"], d / "out.txt", env=self._env(node),
                            name=f"rabbitmq-{node.name}", die_with_parent=True).start()

    def start(self) -> RabbitCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        cookie = self.root / ".erlang.cookie"
        cookie.write_text("GATEHOUSEBENCHDISTRICTCOOKIE")
        cookie.chmod(0o400)
        self.epmd = Process(["epmd", "-port", self.epmd_port], self.root / "epmd.txt",
                            name="epmd", die_with_parent=True).start()
        wait_until(lambda: port_open(self.epmd_port), 10, 0.1, "epmd")
        # The first node forms the cluster alone, the others then join it (classic config).
        self.start_node(self.nodes[0])
        wait_until(lambda: port_open(self.nodes[0].mqtt_port), 120, 0.2, "RabbitMQ rabbit1")
        for n in self.nodes[1:]:
            self.start_node(n)
        for n in self.nodes[1:]:
            wait_until(lambda n=n: port_open(n.mqtt_port), 120, 0.2, f"RabbitMQ {n.name}")
        if self.size > 1:
            wait_until(lambda: self._running_nodes() >= self.size, 60, 0.5, "3 RabbitMQ nodes clustered")
        self._queue()
        return self

    def ctl(self, *args: str, node: Node | None = None) -> str:
        node = node or self.nodes[0]
        run = subprocess.run([str(self.sbin() / "rabbitmqctl"), "-n", f"{node.name}@localhost", *args],
                             env={**os.environ, **self._env(node)}, capture_output=True, text=True,
                             timeout=60)
        return run.stdout

    def _running_nodes(self) -> int:
        out = self.ctl("cluster_status", "--formatter", "json")
        import json
        try:
            return len(json.loads(out).get("running_nodes", []))
        except ValueError:
            return 0

    def _queue(self) -> None:
        import pika
        conn = pika.BlockingConnection(pika.URLParameters(self.urls()[0]))
        ch = conn.channel()
        ch.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_bind(QUEUE, "amq.topic", routing_key=ROUTING_KEY)
        conn.close()

    def leader(self) -> Node:
        # The queue is declared on rabbit1, which starts as its leader.
        return self.nodes[0]

    def backlog(self) -> int:
        import pika
        for url in self.urls():
            try:
                conn = pika.BlockingConnection(pika.URLParameters(url + "?connection_attempts=1&socket_timeout=2"))
            except Exception:
                continue
            try:
                ch = conn.channel()
                q = ch.queue_declare(QUEUE, passive=True)
                n = q.method.message_count
                ch.close()
                # unacked messages are not in message_count: ask the broker for both
                out = self.ctl("list_queues", "name", "messages", "--formatter", "json",
                               node=next(x for x in self.nodes if x.proc and x.proc.running()))
                import json
                for row in json.loads(out or "[]"):
                    if row.get("name") == QUEUE:
                        n = int(row.get("messages", n))
                return n
            finally:
                conn.close()
        raise RuntimeError("no RabbitMQ node answers")

    def kill9(self, node: Node) -> None:
        node.proc.proc.send_signal(signal.SIGKILL)
        node.proc.proc.wait(10)

    def stop(self) -> None:
        for n in reversed(self.nodes):
            if n.proc:
                n.proc.stop(timeout=30)
        if self.epmd:
            self.epmd.stop()
        shutil.rmtree(self.root / "mnesia", ignore_errors=True)
