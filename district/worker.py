"""One ingest worker: fetch a batch from the shared durable consumer `ingest`, store it
(district/ingest.py), commit, then acknowledge the messages, then tell each compound
what is committed (a FeedAck on `district.<cid>.down.ack`).

Any number run side by side, on one machine or three (`district worker`): JetStream
gives each fetched message to one of them. Acked only after the commit, so a worker
killed at any point loses nothing (what it had not acked comes again after the
consumer's ack wait), and the idempotent insert makes the second delivery a no-op.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import psycopg

from district import orders, schema
from district.db import connect
from district.ingest import Incoming, Stored, store
from district.nats_local import CONSUMER, STREAM, connect_options, subject_down
from gatehouse.district_wire import FeedAck
from gatehouse.events import dump

log = logging.getLogger(__name__)
MAX_ACK_RANGES = 1000   # FeedAck.ranges' limit: more go in several acks
NAK_DELAY_S = 2.0


@dataclass
class WorkerConfig:
    dsn: str
    nats_urls: list[str]
    batch: int = 200
    fetch_wait: float = 1.0     # s a fetch waits for the first message
    send_orders: bool = True    # take part in sending orders (one sender wins a lock)
    name: str = "worker"


@dataclass
class Totals:
    polls: int = 0           # fetches asked for, answered or not
    batches: int = 0
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    errors: int = 0
    last: Stored = field(default_factory=Stored)


async def publish_acks(nc, result: Stored) -> None:
    for cid, rs in result.ack_ranges().items():
        for i in range(0, len(rs), MAX_ACK_RANGES):
            await nc.publish(subject_down(cid, "ack"),
                             dump(FeedAck(compound=cid, ranges=rs[i:i + MAX_ACK_RANGES])))


class Worker:
    """The loop of one worker; `stop()` ends it after the batch in hand."""

    def __init__(self, config: WorkerConfig):
        self.config, self.totals = config, Totals()
        self._stop = asyncio.Event()
        self._zone = ZoneInfo("UTC")   # replaced by the database's at connect
        self._days: int | None = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> Totals:
        import nats
        import nats.errors
        cfg = self.config
        nc = await nats.connect(**connect_options(cfg.nats_urls),
                                name=f"district-{cfg.name}", max_reconnect_attempts=-1,
                                reconnect_time_wait=0.5)
        sender = asyncio.create_task(orders.send_loop(cfg.dsn, nc, self._stop)) \
            if cfg.send_orders else None
        conn: psycopg.Connection | None = None
        sub = None
        try:
            while not self._stop.is_set():
                try:
                    if sub is None:
                        sub = await nc.jetstream().pull_subscribe_bind(CONSUMER, STREAM)
                        log.info("%s: worker ready", cfg.name)
                    if conn is None or conn.closed:
                        conn = await asyncio.to_thread(self._connect)
                    await self._one_batch(nc, sub, conn)
                except psycopg.OperationalError as exc:
                    # PostgreSQL away: nothing of the batch was acked; it comes again.
                    log.warning("%s: database unavailable (%s); retrying", cfg.name, exc)
                    self.totals.errors += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                    await self._sleep(1.0)
                except nats.errors.Error as exc:
                    # A node gone, a stream leader being elected, the stream not made
                    # yet: whatever was fetched and not acked comes again; so do we.
                    log.warning("%s: broker: %s: %s; retrying", cfg.name,
                                type(exc).__name__, exc)
                    self.totals.errors += 1
                    await self._sleep(1.0)
        finally:
            self._stop.set()
            if conn is not None:
                conn.close()
            if sender is not None:
                await asyncio.gather(sender, return_exceptions=True)
            # Not drain(): it waits on the pull subscription's open fetch for 30 s.
            # Everything of ours is acked and published; flush and go.
            if nc.is_connected:
                await nc.flush()
            await nc.close()
        return self.totals

    def _connect(self) -> psycopg.Connection:
        """A database connection, and what the workers read from it (zone, retention)."""
        conn = connect(self.config.dsn)
        self._zone = schema.zone_of(conn)
        self._days = int(schema.setting(conn, "retention_days", "0")) or None
        return conn

    async def _one_batch(self, nc, sub, conn: psycopg.Connection) -> None:
        import nats.errors
        self.totals.polls += 1
        try:
            msgs = await sub.fetch(self.config.batch, timeout=self.config.fetch_wait)
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            return
        incoming = [Incoming(m.subject, m.data, _broker_time(m)) for m in msgs]
        try:
            result = await asyncio.to_thread(store, conn, incoming, self._zone, self._days)
        except Exception as exc:
            # Rolled back: hand the batch back now (not after the ack wait), a little
            # later, so a worker with a database again takes it.
            for m in msgs:
                await m.nak(delay=NAK_DELAY_S)
            if isinstance(exc, psycopg.OperationalError):
                raise
            log.exception("%s: a batch of %d could not be stored", self.config.name,
                          len(msgs))
            self.totals.errors += 1
            return
        # Committed: now, and only now, the stream may forget them.
        for m in msgs:
            await m.ack()
        await nc.flush()
        await publish_acks(nc, result)
        log.debug("%s: batch of %d messages: stored %d duplicates %d quarantined %d",
                  self.config.name, len(msgs), result.stored, result.duplicates,
                  result.quarantined)
        t = self.totals
        t.batches, t.messages, t.last = t.batches + 1, t.messages + len(msgs), result
        t.stored += result.stored
        t.duplicates += result.duplicates
        t.quarantined += result.quarantined

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass


def _broker_time(m) -> float:
    try:
        return m.metadata.timestamp.timestamp()
    except Exception:  # noqa: BLE001 (a message without JetStream metadata)
        import time
        return time.time()


def main(config: WorkerConfig) -> Totals:
    """Run one worker until SIGTERM or SIGINT (the process `district worker` runs)."""
    worker = Worker(config)

    async def go() -> Totals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        return await worker.run()
    totals = asyncio.run(go())
    log.info("%s stopped: %s", config.name, totals)
    return totals
