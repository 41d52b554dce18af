"""R3 (H-REVIEW s6): a removed compound's pending orders were sent when it came back.

`district compound remove` left them `pending`: when the compound was added again
(`district compound add`, compounds.restore) or, after the retention forgot its row,
simply sent again, `orders.pending_lists` handed those weeks-old orders to the order
sender and the hub applied them (a seal made before the compound left closed a building
on its return). Now they are withdrawn at the removal (schema m004).
"""
from __future__ import annotations

import time

from district import compounds, orders
from district.db import connect
from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import OrderKind

pytest_plugins = ["tests.district_fixtures"]
DAY = 86400


def _seal_then_remove(conn, now: float) -> None:
    key = SigningKey.generate()
    conn.execute("insert into compounds (id) values ('c1')")
    orders.create_many(conn, key, "d1", ["c1"], OrderKind.SEAL, "office", building="7",
                       now=now - 40 * DAY)
    gone = compounds.remove(conn, "c1", "wang", now - 40 * DAY, True)
    assert gone.pending_orders == 1            # "1 pending order(s) will not be sent"
    assert orders.pending_lists(conn, "d1") == []


def test_a_compound_added_again_is_not_sent_the_orders_made_before_it_left(district_dsn):
    now = time.time()
    with connect(district_dsn) as conn:
        _seal_then_remove(conn, now)
        assert compounds.restore(conn, "c1", "wang", now)     # `district compound add c1`
        sent = orders.pending_lists(conn, "d1")
        assert sent == [], f"the 40-day-old seal goes out again: {sent}"


def test_a_compound_forgotten_by_the_retention_is_not_sent_its_old_orders(district_dsn):
    now = time.time()
    with connect(district_dsn) as conn:
        _seal_then_remove(conn, now)
        assert compounds.forget_removed(conn, 28, now) == ["c1"]
        sent = orders.pending_lists(conn, "d1")
        assert sent == [], f"the 40-day-old seal goes out again: {sent}"
