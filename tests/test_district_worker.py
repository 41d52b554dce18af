"""Ingest workers on a real nats-server and a real PostgreSQL: acks after the commit,
a broken message set aside, two workers sharing the work, a worker killed with -9."""
from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import nats
import pytest

from district import aio
from district.app_run import ENV_DSN, ENV_NATS
from district.db import connect
from district.ingest import gaps
from district.nats_local import CONSUMER, STREAM, subject_up
from district.worker import Worker, WorkerConfig
from gatehouse.district_wire import FeedAck, FeedBatch, FeedEvent
from gatehouse.events import dump
from gatehouse.processes import Process, wait_until

pytest_plugins = ["tests.district_fixtures"]

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=ZONE).timestamp()


def batches(cid: str, n_batches: int, per_batch: int, first: int = 1) -> list[bytes]:
    out, cseq = [], first
    for _ in range(n_batches):
        events = []
        for _ in range(per_batch):
            events.append(FeedEvent(cseq=cseq, id=uuid.uuid4().hex, gate="gate-1",
                                    gate_seq=cseq, kind="attempt", at=T0 + cseq,
                                    person_ref=f"{cseq:024x}", outcome="admit"))
            cseq += 1
        out.append(dump(FeedBatch(compound=cid, sent_at=T0, events=events)))
    return out


def publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    """Into the stream, each confirmed stored (as the MQTT listener would put them)."""
    async def go() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for subject, data in messages:
            await js.publish(subject, data)
        await nc.close()
    aio.run(go())


def consumer_idle(url: str) -> bool:
    """Nothing waiting and nothing delivered-but-unacknowledged."""
    async def go() -> bool:
        nc = await nats.connect(url)
        info = await nc.jetstream().consumer_info(STREAM, CONSUMER)
        await nc.close()
        return info.num_pending == 0 and info.num_ack_pending == 0
    return aio.run(go())


def counts(dsn: str) -> tuple[int, int]:
    with connect(dsn) as conn:
        return conn.execute("select count(*), count(distinct (compound, event_id)) "
                            "from events").fetchone()


def worker_proc(dsn: str, url: str, tmp_path, name: str, batch: int = 20) -> Process:
    return Process([sys.executable, "-m", "district.cli", "worker", "--name", name,
                    "--batch", str(batch), "--no-orders"], tmp_path / f"{name}.log",
                   {ENV_DSN: dsn, ENV_NATS: url, "GATEHOUSE_LOG": "DEBUG"}, name=name)


def test_a_worker_commits_acks_and_tells_the_compound(district_dsn, nats_url):
    data = batches("c1", 3, 5) + batches("c2", 1, 2)
    subjects = [subject_up("c1", "feed")] * 3 + [subject_up("c2", "feed")]
    broken = (subject_up("c1", "feed"), b'{"v":1,"compound":"c1"')

    async def go() -> tuple[list[FeedAck], object]:
        acks: list[FeedAck] = []
        nc = await nats.connect(nats_url)
        async def on_ack(m) -> None:
            acks.append(FeedAck.model_validate_json(m.data))
        await nc.subscribe("district.*.down.ack", cb=on_ack)
        js = nc.jetstream()
        for subject, body in [*zip(subjects, data), broken, *zip(subjects, data)]:
            await js.publish(subject, body)
        worker = Worker(WorkerConfig(dsn=district_dsn, nats_urls=[nats_url],
                                     send_orders=False, fetch_wait=0.2))
        task = asyncio.create_task(worker.run())
        while worker.totals.messages < 9:
            await asyncio.sleep(0.05)
        worker.stop()
        totals = await task
        await nc.flush()
        await nc.close()
        return acks, totals

    acks, totals = aio.run(go())
    assert (totals.stored, totals.duplicates, totals.quarantined) == (17, 17, 1)
    assert counts(district_dsn) == (17, 17)
    acked: dict[str, set[int]] = {}
    for ack in acks:
        for a, b in ack.ranges:
            acked.setdefault(ack.compound, set()).update(range(a, b + 1))
    assert acked == {"c1": set(range(1, 16)), "c2": {1, 2}}
    with connect(district_dsn) as conn:
        assert conn.execute("select count(*) from quarantine").fetchone()[0] == 1
    assert consumer_idle(nats_url)   # the broken one acknowledged too: no redelivery loop


def test_two_workers_share_the_work(district_dsn, nats_url, tmp_path):
    procs = [worker_proc(district_dsn, nats_url, tmp_path, f"w{i}", batch=5).start()
             for i in (1, 2)]
    try:
        for p in procs:
            wait_until(lambda p=p: "worker ready" in p.output(), 20,
                       message=f"{p.name} to start")
        publish(nats_url, [(subject_up("c1", "feed"), d) for d in batches("c1", 200, 5)])
        wait_until(lambda: counts(district_dsn)[0] == 1000, 60, 0.2, "1,000 events stored")
        wait_until(lambda: consumer_idle(nats_url), 20, 0.2, "all acknowledged")
    finally:
        for p in procs:
            p.stop()
    stored = [sum(int(line.split("stored ")[1].split()[0]) for line in p.output().splitlines()
                  if "batch of" in line) for p in procs]
    assert all(s > 0 for s in stored), stored
    assert sum(stored) == 1000
    assert counts(district_dsn) == (1000, 1000)


def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(district_dsn, nats_url,
                                                             tmp_path):
    total = 300 * 10
    publish(nats_url, [(subject_up("c1", "feed"), d) for d in batches("c1", 300, 10)])
    first = worker_proc(district_dsn, nats_url, tmp_path, "killed", batch=25).start()
    try:
        # Killed while it works: some committed, some fetched and not yet acknowledged.
        wait_until(lambda: counts(district_dsn)[0] > 0, 30, 0.01, "the first commit")
        first.kill()
    finally:
        first.stop()
    done_before = counts(district_dsn)[0]
    assert done_before < total, "the worker finished before it could be killed"
    second = worker_proc(district_dsn, nats_url, tmp_path, "second", batch=25).start()
    try:
        wait_until(lambda: counts(district_dsn)[0] == total, 60, 0.2, "every event stored")
        wait_until(lambda: consumer_idle(nats_url), 30, 0.2, "all acknowledged")
    finally:
        second.stop()
    assert counts(district_dsn) == (total, total)   # none lost, none twice
    with connect(district_dsn) as conn:
        assert gaps(conn, "c1") == []
        assert conn.execute("select first, last from compound_ranges").fetchall() == \
            [(1, total)]


def test_a_worker_started_before_the_stream_waits_for_it(district_dsn, nats_url):
    """Three machines start in any order: a worker up before `district broker stream`
    keeps trying instead of exiting."""
    from tests.district_fixtures import fresh_stream

    async def go() -> int:
        nc = await nats.connect(nats_url)
        await nc.jetstream().delete_stream(STREAM)
        worker = Worker(WorkerConfig(dsn=district_dsn, nats_urls=[nats_url],
                                     send_orders=False, fetch_wait=0.2))
        task = asyncio.create_task(worker.run())
        while worker.totals.polls < 3:   # it has asked the missing stream, and goes on
            await asyncio.sleep(0.05)
        assert not task.done()
        await asyncio.to_thread(fresh_stream, nats_url, 1, 3)
        await nc.jetstream().publish(subject_up("c1", "feed"), batches("c1", 1, 4)[0])
        while worker.totals.stored < 4:
            await asyncio.sleep(0.05)
        worker.stop()
        await task
        await nc.close()
        return worker.totals.stored
    assert aio.run(go()) == 4
