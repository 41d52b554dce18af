"""The district's real parts for tests: PostgreSQL, nats-server (one node or three), a
district home. Servers are per session (one per xdist worker); each test gets a fresh
database copied from a migrated template, and a fresh stream.

Register with `pytest_plugins = ["tests.district_fixtures"]` (tests/conftest.py).
"""
from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from district import aio, schema
from district.db import connect
from district.home import DistrictConfig, DistrictHome
from district.nats_local import CONSUMER, STREAM, NatsNode, NodeConfig, Peer, ensure_stream
from district.pg_local import PgCluster
from gatehouse.processes import free_port

TEMPLATE = "district_template"
ZONE = "Asia/Shanghai"
# Compound logins of the session's broker node (tests bridge Mosquitto in as these).
COMPOUNDS = {"c1": "pw-c1", "c2": "pw-c2", "c3": "pw-c3"}
_numbers = itertools.count(1)


def shared_dir(prefix: str) -> Path:
    """A directory the `postgres` user can reach when tests run as root (pytest's own
    temporary directories are 0700 root's). The caller removes it."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


_shared_dir = shared_dir   # the name tests/test_district_faults.py imports


def need(binary: str) -> None:
    """Fail, never skip, without a program the district needs: scripts/test installs it,
    and a skip would let a CI machine without it pass (as the hub's tests do for
    mosquitto)."""
    if shutil.which(binary) is None and not Path(binary).exists():
        pytest.fail(f"{binary} is not installed (scripts/test's bootstrap installs it)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster for this test process, with a migrated template database."""
    from district.pg_local import PG_BIN
    need(str(PG_BIN / "initdb"))
    base = _shared_dir("gh-pg-")
    cluster = PgCluster(base / "pg", durable=False).init()
    with connect(cluster.dsn()) as conn:
        conn.execute(f"create database {TEMPLATE}")
    with connect(cluster.dsn(TEMPLATE)) as conn:
        schema.migrate(conn)
        schema.set_setting(conn, "zone", ZONE)
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def asyncio_run_anywhere(monkeypatch) -> None:
    """`asyncio.run` that also works in a test process whose main thread has a running
    loop: Playwright's sync API (the session's browser) leaves one there, and every later
    test file on that xdist worker calling asyncio.run failed ("cannot be called from a
    running event loop"). Same semantics otherwise (district.aio.run)."""
    monkeypatch.setattr(asyncio, "run", aio.run)


@pytest.fixture
def district_dsn(pg_cluster, asyncio_run_anywhere) -> Iterator[str]:
    """A fresh migrated database for one test (CREATE DATABASE ... TEMPLATE: ~50 ms)."""
    name = f"t{next(_numbers)}"
    with connect(pg_cluster.dsn()) as conn:
        conn.execute(f"create database {name} template {TEMPLATE}")
    yield pg_cluster.dsn(name)
    with connect(pg_cluster.dsn()) as conn:
        conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture
def district_db(district_dsn):
    with connect(district_dsn) as conn:
        yield conn


def node_config(root: Path, name: str = "n1", peers: list[Peer] | None = None,
                ports: tuple[int, int, int] | None = None) -> NodeConfig:
    client, mqtt, cluster = ports or (free_port(), free_port(), 0)
    return NodeConfig(name=name, store_dir=root / name / "js", client_port=client,
                      mqtt_port=mqtt, cluster_port=cluster, peers=peers or [],
                      service_password="svc-pw", compounds=dict(COMPOUNDS),
                      route_password="route-pw" if peers else "")


def fresh_stream(url: str, replicas: int = 1, ack_wait: float = 30) -> None:
    """Delete the stream (and its consumer) and create them anew."""
    import nats
    from nats.js.errors import NotFoundError

    async def go() -> None:
        nc = await nats.connect(url)
        try:
            try:
                await nc.jetstream().delete_stream(STREAM)
            except NotFoundError:
                pass
            await ensure_stream(nc, replicas, ack_wait=ack_wait)
        finally:
            await nc.close()
    aio.run(go())


@pytest.fixture(scope="session")
def nats_node() -> Iterator[NatsNode]:
    """One nats-server node (JetStream, MQTT) with logins c1..c3 and the service's."""
    need("nats-server")
    root = _shared_dir("gh-nats-")
    node = NatsNode(node_config(root), root / "n1.conf", root / "n1.log").start()
    yield node
    node.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def nats_url(nats_node, asyncio_run_anywhere) -> str:
    """The session's node with an empty GATEHOUSE_UP stream and `ingest` consumer
    (ack wait 3 s, so a killed worker's messages come back within a test)."""
    fresh_stream(nats_node.url, ack_wait=3)
    return nats_node.url


def start_cluster(root: Path, names: tuple[str, ...] = ("n1", "n2", "n3")) -> list[NatsNode]:
    """Three nodes on loopback, routed to each other; the caller stops them."""
    need("nats-server")
    peers = [Peer("127.0.0.1", free_port(), free_port(), free_port()) for _ in names]
    nodes = [NatsNode(node_config(root, n, peers, (p.client_port, p.mqtt_port,
                                                   p.cluster_port)),
                      root / f"{n}.conf", root / f"{n}.log") for n, p in zip(names, peers)]
    try:
        for node in nodes:
            node.start()
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


@pytest.fixture
def nats_cluster_factory(tmp_path, asyncio_run_anywhere):
    """start() -> three routed nodes (stopped after the test)."""
    started: list[NatsNode] = []

    def start() -> list[NatsNode]:
        nodes = start_cluster(_shared_dir("gh-natsc-"))
        started.extend(nodes)
        return nodes
    yield start
    for node in started:
        node.stop()


@pytest.fixture
def district_home(asyncio_run_anywhere) -> Iterator[DistrictHome]:
    """An initialised district home (id `d1`) on free ports, in a directory the postgres
    user can reach."""
    base = _shared_dir("gh-dh-")
    home = DistrictHome(base / "home")
    home.init(DistrictConfig(id="d1", name="测试街道", zone=ZONE, nats_port=free_port(),
                             mqtt_port=free_port(), workers=2))
    yield home
    shutil.rmtree(base, ignore_errors=True)
