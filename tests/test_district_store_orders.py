"""Orders: one seq per compound under concurrency, signed and verifiable, sent as an
OrderList until reported; and retention dropping only the days past it."""
from __future__ import annotations

import asyncio
import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import nats
import pytest

from district import aio, orders, retention, schema
from district.db import connect
from district.ingest import Incoming, store
from district.nats_local import subject_up
from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import OrderKind, OrderList, OrderReport, ReportStatus, open_order
from gatehouse.events import dump
from gatehouse.policy import Policy

pytest_plugins = ["tests.district_fixtures"]

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=ZONE).timestamp()
KEY = SigningKey.generate()


def test_orders_made_at_once_never_share_a_seq(district_dsn):
    errors: list[Exception] = []
    barrier = threading.Barrier(6)

    def maker(i: int) -> None:
        with connect(district_dsn) as conn:
            barrier.wait()
            try:
                for _ in range(5):
                    if i % 2:   # a template to three compounds at once, c1 among them
                        orders.create_many(conn, KEY, "d1", ["c3", "c1", "c2"],
                                           OrderKind.SEAL, "office", building="7")
                    else:
                        orders.create(conn, KEY, "d1", "c1", OrderKind.REOPEN, "office",
                                      building="7")
            except Exception as exc:  # noqa: BLE001 (the test reports it)
                errors.append(exc)
    threads = [threading.Thread(target=maker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with connect(district_dsn) as conn:
        seqs = {cid: [r[0] for r in conn.execute(
            "select seq from orders where compound = %s order by seq", [cid])]
            for cid in ("c1", "c2", "c3")}
    assert seqs == {"c1": list(range(1, 31)), "c2": list(range(1, 16)),
                    "c3": list(range(1, 16))}


def test_an_order_opens_with_the_district_key_only(district_db):
    made = orders.create(district_db, KEY, "d1", "c1", OrderKind.SEAL, "王主任",
                         building="7", note="密接", now=T0)
    signed = district_db.execute("select signed from orders where id = %s",
                                 [made.id]).fetchone()[0]
    order = open_order(signed, KEY.trusted("district d1", frozenset()))
    assert (order.district, order.compound, order.seq, order.kind, order.building,
            order.issued_by, order.issued_at) == \
        ("d1", "c1", 1, OrderKind.SEAL, "7", "王主任", T0)
    with pytest.raises(ValueError):
        open_order(signed, SigningKey.generate().trusted("another", frozenset()))


def test_an_order_that_a_hub_could_not_apply_is_refused_here(district_db):
    with pytest.raises(ValueError):
        orders.create(district_db, KEY, "d1", "c1", OrderKind.SEAL, "office")  # no building
    with pytest.raises(ValueError):
        orders.create(district_db, KEY, "d1", "c1", OrderKind.POLICY, "office",
                      policy={"passback": "sometimes"})
    made = orders.create_many(district_db, KEY, "d1", ["c1", "c2"], OrderKind.POLICY,
                              "office", policy=Policy().model_dump(mode="json"),
                              template="winter")
    assert [(m.compound, m.seq) for m in made] == [("c1", 1), ("c2", 1)]


def test_pending_orders_are_sent_until_reported(district_dsn, nats_url):
    with connect(district_dsn) as conn:
        schema.set_setting(conn, "district_id", "d1")
        orders.create(conn, KEY, "d1", "c1", OrderKind.SEAL, "office", building="7")

    async def go() -> list[OrderList]:
        got: list[OrderList] = []
        nc = await nats.connect(nats_url)

        async def on_list(m) -> None:
            got.append(OrderList.model_validate_json(m.data))
        await nc.subscribe("district.c1.down.orders", cb=on_list)
        stop = asyncio.Event()
        # No resend within the test: the second list can only come from the NOTIFY.
        sender = asyncio.create_task(orders.send_loop(district_dsn, nc, stop, resend_s=600))
        while not got:   # the pending one at start
            await asyncio.sleep(0.02)
        # A new order is sent on its NOTIFY, with the older still-pending one first.
        await asyncio.to_thread(_make_second, district_dsn)
        while len(got[-1].orders) < 2:
            await asyncio.sleep(0.02)
        stop.set()
        await sender
        await nc.close()
        return got
    sent = aio.run(go())
    seqs = [[open_order(s, KEY.trusted("d", frozenset())).seq for s in ol.orders]
            for ol in sent]
    assert seqs[0] == [1] and seqs[-1] == [1, 2]
    # Both reported: nothing is pending, so nothing is sent any more.
    _report_both(district_dsn)
    with connect(district_dsn) as conn:
        assert orders.pending_lists(conn, "d1") == []
        assert conn.execute("select seq, status from orders order by seq").fetchall() == \
            [(1, "applied"), (2, "stale")]


def _make_second(dsn: str) -> None:
    with connect(dsn) as conn:
        orders.create(conn, KEY, "d1", "c1", OrderKind.REOPEN, "office", building="7")


def _report_both(dsn: str) -> None:
    reports = [OrderReport(compound="c1", seq=1, status=ReportStatus.APPLIED, at=T0),
               OrderReport(compound="c1", seq=2, status=ReportStatus.STALE, at=T0),
               # a resend of the first report after it was applied changes nothing
               OrderReport(compound="c1", seq=1, status=ReportStatus.REFUSED, at=T0)]
    with connect(dsn) as conn:
        store(conn, [Incoming(subject_up("c1", "reports"), dump(r), T0) for r in reports],
              ZONE)


def test_retention_drops_only_the_days_past_it(district_db):
    district_db.execute("insert into audit (actor, action) values ('office', 'trace')")
    for day in (1, 2, 3, 4):
        schema.ensure_partitions(district_db, [date(2026, 11, day)], ZONE)
    now = datetime(2026, 11, 4, 12, 0, tzinfo=ZONE).timestamp()
    assert retention.drop_old(district_db, days=2, now=now) == \
        ["events_20261101", "events_20261102"]
    assert sorted(schema.day_partitions(district_db)) == ["events_20261103",
                                                          "events_20261104"]
    assert district_db.execute("select count(*) from audit").fetchone()[0] == 1
    with pytest.raises(Exception, match="append-only"):
        district_db.execute("delete from audit")


def test_today_and_tomorrow_are_made_ahead(district_db):
    late = datetime(2026, 11, 30, 23, 59, tzinfo=ZONE).timestamp()
    assert retention.prepare_days(district_db, now=late) == ["events_20261130",
                                                             "events_20261201"]
    assert retention.prepare_days(district_db, now=late) == []
