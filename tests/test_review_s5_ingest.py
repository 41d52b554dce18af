"""Review s5: hostile messages from a compound's login at the district's ingest (real
PostgreSQL, real nats-server, the real worker). A compound's broker login may publish
anything under its own subjects; what it sends must be stored, or set aside with a
reason and acknowledged, and never hold the stream nor lose the good events beside it."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import nats
import pytest

from district.db import connect
from district.ingest import Incoming, store
from district.nats_local import CONSUMER, STREAM, subject_up
from district.worker import Worker, WorkerConfig
from tests.test_district_worker import consumer_idle

from tests.review_s5_loop import in_thread, run_async

pytest_plugins = ["tests.district_fixtures"]

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=ZONE).timestamp()


def ev(cseq: int, **over) -> dict:
    e = {"cseq": cseq, "id": uuid.uuid4().hex, "gate": "g1", "gate_seq": cseq,
         "kind": "attempt", "at": T0 + cseq, "outcome": "admit",
         "person_ref": f"{cseq:024x}", "name": "张*"}
    e.update(over)
    return e


def feed(events: list[dict], named: str = "c1") -> bytes:
    return json.dumps({"v": 1, "compound": named, "sent_at": T0, "events": events}).encode()


def run_worker(dsn: str, url: str, messages: list[tuple[str, bytes]],
               done: Callable[[], bool], polls: int = 25):
    """Publish into the stream, run one real worker until `done()` holds with nothing
    pending or unacknowledged on the consumer (then nothing is left to redeliver), or
    for `polls` fetches (more than enough to take everything and any redelivery: the nak
    delay is 2 s, a fetch waits 0.2 s), what a worker stuck on a message ends on."""
    async def settled(js) -> bool:
        info = await js.consumer_info(STREAM, CONSUMER)
        return info.num_pending == 0 and info.num_ack_pending == 0 \
            and await asyncio.to_thread(done)

    async def go():
        nc = await nats.connect(url)
        js = nc.jetstream()
        for subject, data in messages:
            await js.publish(subject, data)
        worker = Worker(WorkerConfig(dsn=dsn, nats_urls=[url], send_orders=False,
                                     fetch_wait=0.2, batch=10))
        task = asyncio.create_task(worker.run())
        while worker.totals.polls < polls and not task.done() and not await settled(js):
            await asyncio.sleep(0.1)
        worker.stop()
        totals = await task
        await nc.close()
        return totals
    return run_async(go)


def cseqs(dsn: str, compound: str) -> list[int]:
    with connect(dsn) as conn:
        return [r[0] for r in conn.execute(
            "select cseq from events where compound = %s order by cseq", [compound])]


def reasons(dsn: str) -> list[str]:
    with connect(dsn) as conn:
        return [r[0] for r in conn.execute("select reason from quarantine order by id")]


DEEP = (b'{"v":1,"compound":"c1","sent_at":1,"events":[' + b"[" * 100_000
        + b"]" * 100_000 + b"]}")


@pytest.mark.parametrize("poison", [
    pytest.param(feed([ev(2**63, at=T0)]), id="cseq-2**63"),
    pytest.param(feed([{**ev(7), "cseq": 2**63, "at": 5e9}]), id="cseq-2**63-bad-at"),
    # D13: the first fix's bound, bigint's own edge: `cseq + 1` overflowed in the merge.
    pytest.param(feed([ev(2**63 - 1, at=T0)]), id="cseq-2**63-1"),
    pytest.param(feed([{**ev(7), "cseq": 2**63 - 1, "at": 5e9}]), id="cseq-2**63-1-bad-at"),
])
def test_a_number_beyond_bigint_is_set_aside_and_the_stream_moves_on(
        district_dsn, nats_url, poison):
    """D2: a cseq of 2**63 passed the wire model (no upper bound) or was kept as the cseq
    of a set-aside event, and was merged into compound_ranges outside the message's
    savepoint: 'bigint out of range' rolled the whole batch back, the worker handed it
    back (nak), and got it again, for ever; every message fetched with it went back too
    (here another compound's good batch was never stored). Fixed by H-STORE (7acaebb)."""
    good = [ev(i) for i in range(1, 6)]
    totals = run_worker(district_dsn, nats_url, [(subject_up("c2", "feed"),
                                                  feed(good, "c2")),
                                                 (subject_up("c1", "feed"), poison)],
                        done=lambda: cseqs(district_dsn, "c2") and reasons(district_dsn))
    assert cseqs(district_dsn, "c2") == [1, 2, 3, 4, 5]
    assert len(reasons(district_dsn)) == 1
    assert totals.errors == 0
    assert in_thread(consumer_idle, nats_url)


def test_a_deeply_nested_message_is_set_aside_and_the_stream_moves_on(district_dsn, nats_url):
    """D3: a 200 KB message of 100,000 nested brackets: the wire model refused it (its
    recursion limit), then the salvage of good events re-read it with json.loads, whose
    RecursionError is not a ValueError: out of store(), batch handed back, for ever.
    Fixed by H-STORE (7acaebb)."""
    good = [ev(i) for i in range(1, 6)]
    totals = run_worker(district_dsn, nats_url, [(subject_up("c2", "feed"),
                                                  feed(good, "c2")),
                                                 (subject_up("c1", "feed"), DEEP)],
                        done=lambda: cseqs(district_dsn, "c2") and reasons(district_dsn))
    assert cseqs(district_dsn, "c2") == [1, 2, 3, 4, 5]
    assert len(reasons(district_dsn)) == 1
    assert totals.errors == 0
    assert in_thread(consumer_idle, nats_url)


def test_one_unstorable_event_does_not_take_the_good_ones_with_it(district_db):
    """D1: one event with gate_seq 2**63 (the wire model has no upper bound) failed the
    batch's one INSERT; the message was quarantined whole ('could not store', payload
    cut at 64 KiB) but every cseq of it was acknowledged: the hub forgets the 499 good
    events that never reached `events`. Fixed by H-STORE (2835b27: a failed batch goes
    in event by event)."""
    good = [ev(i) for i in range(1, 500)]
    result = store(district_db, [Incoming(subject_up("c1", "feed"),
                                          feed(good + [ev(500, gate_seq=2**63)]),
                                          T0 + 3600)], ZONE)
    acked = {c for c in result.acks.get("c1", [])}
    kept = {r[0] for r in district_db.execute("select cseq from events")}
    assert kept == set(range(1, 500))
    assert acked <= kept | {500}
    assert result.quarantined == 1


def test_held_hostile_envelopes_are_set_aside_once_and_acknowledged(district_db):
    """Held: not JSON, invalid UTF-8, 1e400, NaN, wrong version, another compound named on
    c1's subject, a 1 MB name, an `at` a year after receipt, an
    `at` before the retention: each quarantined (or expired) with a reason, nothing
    stored under another compound, the good events of a batch stored."""
    sub = subject_up("c1", "feed")
    messages = [b"not json", b"\xff\xfe", b"1e400",
                b'{"v":1,"compound":"c1","sent_at":NaN,"events":[]}',
                b'{"v":2,"compound":"c1","sent_at":1,"events":[]}',
                feed([ev(1)], named="c2"),
                feed([ev(2, name="x" * 1_000_000)]),
                feed([ev(3, kind="Bad Kind"), ev(4)]),
                feed([ev(5, at=T0 + 400 * 86400)]),
                feed([ev(6, at=T0 - 400 * 86400)])]
    result = store(district_db, [Incoming(sub, m, T0 + 3600) for m in messages], ZONE,
                   retention_days=28)
    rows = district_db.execute("select compound, cseq from events").fetchall()
    assert rows == [("c1", 4)]
    why = [r[0] for r in district_db.execute("select reason from quarantine order by id")]
    assert len(why) == 9 and all(why), why
    assert "names compound 'c2'" in why[5]
    assert result.expired == 1
    # set-aside events are acknowledged (kept in quarantine); an unreadable batch is not;
    # nothing is acknowledged to the compound a batch named on another's subject
    assert sorted(result.acks["c1"]) == [2, 3, 4, 5, 6]
    assert set(result.acks) == {"c1"}


def test_held_the_same_event_500_times_is_one_row_and_cseq_0_is_set_aside(district_db):
    """Held: 500 events with one id (and one time) in one batch are one row, each cseq
    acknowledged; a cseq of 0 is set aside, not acknowledged. (The same id with 500
    different times is 500 rows: the key is (compound, event id, at), and a compound can
    plant events of its own anyway: docs/security.md, residual risks.)"""
    same = uuid.uuid4().hex
    sub = subject_up("c1", "feed")
    result = store(district_db, [Incoming(sub, feed([ev(i, id=same, at=T0)
                                                     for i in range(1, 501)]), T0 + 3600),
                                 Incoming(sub, feed([ev(0)]), T0 + 3600)], ZONE)
    assert district_db.execute("select count(*) from events").fetchone()[0] == 1
    assert sorted(result.acks["c1"]) == list(range(1, 501))
    assert result.quarantined == 1


def test_junk_from_one_compound_fills_only_its_own_budget(district_dsn, nats_node, nats_url):
    """D8 (H5 at the district): c2's login sent 200 junk messages of 100 KiB over MQTT;
    each was kept in `quarantine` (64 KiB each, 28 days): 12.5 MiB of PostgreSQL from one
    compound in seconds, with no limit but the disk (the stream has none either).
    Fixed by H-STORE (33bd51a: 1 MiB a compound over 24 hours, the stream 8 GiB)."""
    from tests.test_review_s5_broker import Mqtt
    c2 = Mqtt(nats_node.cfg.mqtt_port, "c2", nats_node.cfg.compounds["c2"], "junk-c2")
    junk = b"x" * 100 * 1024
    infos = [c2.c.publish("district/c2/gatehouse/hub/district/feed", junk, qos=1)
             for _ in range(200)]
    for info in infos:
        info.wait_for_publish(30)
    c2.close()
    run_worker(district_dsn, nats_url, [(subject_up("c1", "feed"), feed([ev(1)]))],
               done=lambda: bool(cseqs(district_dsn, "c1")), polls=40)
    assert cseqs(district_dsn, "c1") == [1]
    with connect(district_dsn) as conn:
        kept, rows = conn.execute("select coalesce(sum(length(payload)), 0), count(*) "
                                  "from quarantine where compound = 'c2' or "
                                  "subject like 'district.c2.%'").fetchone()
    assert rows > 0
    assert kept <= 2 * 1024 * 1024, f"{kept / 2**20:.1f} MiB kept from one compound"


def test_a_compound_cannot_make_each_batch_rewrite_all_its_ranges(district_db):
    """D11: c2 sends every other cseq over a wide span, 500 a batch: each batch adds 500
    range rows, and _add_ranges deletes and inserts again every row between its first
    and last cseq. Measured: 162 ms a batch at first, 4.0 s after 200 batches (100,000
    rows), quadratic, on the workers every compound shares. Here: 20 batches; the rows
    rewritten stay within a few times the events stored. Fixed by H-STORE (33bd51a)."""
    district_db.execute("create table deleted_ranges (n bigint)")
    district_db.execute(
        "create function count_deleted() returns trigger language plpgsql as "
        "$$ begin insert into deleted_ranges values (1); return old; end $$")
    district_db.execute("create trigger count_deleted after delete on compound_ranges "
                        "for each row execute function count_deleted()")
    district_db.commit()
    batches = 20
    for b in range(batches):
        events = [ev(2 * (b + batches * k) + 1, at=T0 + k) for k in range(500)]
        store(district_db, [Incoming(subject_up("c2", "feed"), feed(events, "c2"),
                                     T0 + 3600)], ZONE)
    stored = district_db.execute("select count(*) from events").fetchone()[0]
    rewritten = district_db.execute("select count(*) from deleted_ranges").fetchone()[0]
    assert stored == batches * 500
    assert rewritten <= 2 * stored, f"{rewritten} range rows rewritten for {stored} events"
