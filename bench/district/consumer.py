"""A competing bench worker: takes FeedBatch messages from the engine, inserts their
events into PostgreSQL idempotently (ON CONFLICT DO NOTHING on the primary key
(compound, event_id, at)) and acknowledges only after the commit. NATS: the durable pull
consumer `ingest` on stream GATEHOUSE_UP (nats-py); RabbitMQ: the quorum queue with
manual acks and a prefetch (pika). A lost broker connection or PostgreSQL is retried;
what was not acked comes again and the primary key absorbs it.

Run: python -m bench.district.consumer nats|rabbitmq --urls U,U --dsn DSN --name w1
"""
from __future__ import annotations

import argparse
import time

from bench.district import deps

deps.ensure()

import psycopg  # noqa: E402

from gatehouse.district_wire import FeedBatch  # noqa: E402

INSERT = """
INSERT INTO events (compound, event_id, cseq, gate, gate_seq, kind, at, direction, outcome,
                    person_ref, building, household, name, reasons, alert)
SELECT %(c)s, r.id, r.cseq, r.gate, r.gate_seq, r.kind, to_timestamp(r.at), r.direction,
       r.outcome, r.person_ref, r.building, r.household, r.name, r.reasons, r.alert
FROM jsonb_to_recordset(%(b)s::jsonb -> 'events') AS r(
  cseq bigint, id text, gate text, gate_seq bigint, kind text, at double precision,
  direction text, outcome text, person_ref text, building text, household text, name text,
  reasons text[], alert boolean)
ON CONFLICT DO NOTHING
"""
DELIVERY = ("INSERT INTO deliveries (worker, compound, first_cseq, received, inserted, sent_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)")
PREFETCH = 10


class Store:
    def __init__(self, dsn: str, name: str):
        self.dsn, self.name, self.conn = dsn, name, None

    def commit(self, data: bytes) -> None:
        """One message in one transaction; returns once committed (retries PostgreSQL)."""
        fb = FeedBatch.model_validate_json(data)
        text = data.decode()
        while True:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg.connect(self.dsn, connect_timeout=3)
                with self.conn.transaction():
                    cur = self.conn.execute(INSERT, {"c": fb.compound, "b": text})
                    self.conn.execute(DELIVERY, (self.name, fb.compound, fb.events[0].cseq,
                                                 len(fb.events), cur.rowcount, fb.sent_at))
                return
            except psycopg.OperationalError:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                time.sleep(0.3)


def run_nats(urls: list[str], store: Store) -> None:
    import asyncio

    import nats
    from nats.errors import TimeoutError as NatsTimeout

    from bench.district.clusters import CONSUMER, STREAM, SUBJECTS

    async def loop() -> None:
        nc = await nats.connect(servers=urls, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                connect_timeout=2)
        js = nc.jetstream(timeout=5)
        sub = None
        while True:
            try:
                if sub is None:
                    sub = await js.pull_subscribe(SUBJECTS, durable=CONSUMER, stream=STREAM)
                msgs = await sub.fetch(PREFETCH, timeout=1)
            except (NatsTimeout, asyncio.TimeoutError):
                continue
            except Exception:   # a node gone, a leader being elected: ask again
                await asyncio.sleep(0.3)
                continue
            for msg in msgs:
                await asyncio.to_thread(store.commit, msg.data)
                try:
                    await msg.ack()
                except Exception:
                    pass   # not acked: it comes again after ack_wait, the key absorbs it
    asyncio.run(loop())


def run_rabbitmq(urls: list[str], store: Store, index: int) -> None:
    import pika
    from pika.exceptions import AMQPError

    from bench.district.clusters import QUEUE

    def on_message(ch, method, props, body) -> None:
        store.commit(body)
        ch.basic_ack(method.delivery_tag)

    k = index
    while True:
        url = urls[k % len(urls)]
        k += 1
        try:
            conn = pika.BlockingConnection(pika.URLParameters(
                url + "?connection_attempts=1&socket_timeout=3&heartbeat=10"))
            ch = conn.channel()
            ch.basic_qos(prefetch_count=PREFETCH)
            ch.basic_consume(QUEUE, on_message, auto_ack=False)
            ch.start_consuming()
        except (AMQPError, OSError):
            time.sleep(0.3)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("engine", choices=("nats", "rabbitmq"))
    p.add_argument("--urls", required=True)
    p.add_argument("--dsn", required=True)
    p.add_argument("--name", default="w1")
    p.add_argument("--index", type=int, default=0)
    a = p.parse_args()
    store = Store(a.dsn, a.name)
    urls = a.urls.split(",")
    if a.engine == "nats":
        run_nats(urls, store)
    else:
        run_rabbitmq(urls, store, a.index)


if __name__ == "__main__":
    main()
