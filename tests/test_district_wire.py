"""The district's messages across versions: what goes up tolerates keys a newer hub
adds, what comes down (acks, signed orders) refuses what it cannot fully read."""
from __future__ import annotations

import json
import time

import pytest

from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import (
    CompoundStatus,
    FeedBatch,
    Order,
    OrderKind,
    OrderList,
    OrderReport,
    open_order,
    parse,
    signed_order,
)
from gatehouse.events import WireError

NOW = time.time()
EVENT = {"cseq": 1, "id": "a" * 32, "gate": "north", "gate_seq": 1, "kind": "attempt",
         "at": NOW}


def test_a_newer_hubs_extra_keys_are_ignored_going_up():
    batch = {"v": 1, "compound": "c1", "sent_at": NOW, "temperature": 36.6,
             "events": [{**EVENT, "mask_colour": "green"}]}
    assert parse(FeedBatch, json.dumps(batch).encode()).events[0].cseq == 1
    status = {"v": 1, "compound": "c1", "at": NOW, "bundle_version": 3,
              "policy_version": 2, "solar_panels": 4}
    assert parse(CompoundStatus, json.dumps(status).encode()).bundle_version == 3
    report = {"v": 1, "compound": "c1", "seq": 4, "status": "applied", "at": NOW,
              "applied_by": "x"}
    assert parse(OrderReport, json.dumps(report).encode()).seq == 4


def test_a_newer_wire_version_is_still_refused_going_up():
    with pytest.raises(WireError, match="version"):
        parse(FeedBatch, json.dumps({"v": 2, "compound": "c1", "sent_at": NOW,
                                     "events": [EVENT]}).encode())


def test_an_order_list_or_order_with_a_key_it_does_not_know_is_refused_coming_down():
    with pytest.raises(WireError):
        parse(OrderList, json.dumps({"v": 1, "district": "d", "compound": "c1",
                                     "orders": [], "expires": 1}).encode())
    key = SigningKey.generate()
    order = Order(district="d", compound="c1", seq=1, kind=OrderKind.SEAL, building="7",
                  issued_at=NOW, issued_by="li")
    assert open_order(signed_order(order, key), key.trusted("d", frozenset())) == order
    with pytest.raises(ValueError):
        Order.model_validate({**order.model_dump(mode="json"), "until": NOW + 3600})
