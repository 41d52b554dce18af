"""Review s5: hostile or broken orders at the hub's order desk (hub/district_orders.py, real
SQLite, real bundles), signed by the trusted district key unless said."""
from __future__ import annotations

import base64
import time

import cbor2

import pytest

from gatehouse.codes.cose import sign1
from gatehouse.district_wire import OrderKind, OrderList, ReportStatus
from gatehouse.events import WireError, dump, parse
from tests.test_hub_district import DISTRICT, bundle_of, desk_of, linked, order, take


def raw_order(body: dict) -> str:
    """Signed by the district's real key, but not an Order this hub can read."""
    return base64.b64encode(sign1(cbor2.dumps(body), DISTRICT)).decode()


def body(seq: int, **over) -> dict:
    return {"district": "street1", "compound": "c1", "seq": seq, "kind": "policy",
            "building": None, "issued_at": time.time(), "issued_by": "x", "note": "", **over}


def alerts(compound) -> list[str]:
    return [r["kind"] for r in compound.db.query("select kind from alerts")]


def test_a_signed_order_this_hub_cannot_read_is_refused_by_its_seq_not_called_forged(
        compound):
    """D7: an order the district did sign but this hub cannot read (a newer district's
    kind, a field it does not know) was reported as 'not signed by district street1'
    under seq 0 and raised the office's forged-order alert: the district, matching
    reports by seq, kept it pending and sent it every 10 s for ever, and the office was
    told of a forgery that was none. Now: refused under its own seq, no forged alert,
    the same answer when sent again; the next order applies."""
    cfg = linked(compound)
    desk = desk_of(compound, cfg)
    newer = raw_order(body(1, kind="precaution", building="7"))
    [first] = take(desk, newer)
    assert (first.seq, first.status) == (1, ReportStatus.REFUSED), first
    assert "not readable here" in first.reason and "not signed" not in first.reason
    assert alerts(compound) == []
    [again] = take(desk, newer)
    assert (again.seq, again.status, again.reason) == (1, first.status, first.reason)
    [ok] = take(desk, order(2))
    assert ok.status is ReportStatus.APPLIED
    # For another compound, or with no seq: still not attributable (seq 0), not forged.
    other = take(desk, raw_order(body(3, compound="c2", kind="precaution")),
                 raw_order({"seq": "x"}))
    assert [(r.seq, r.status) for r in other] == [(0, ReportStatus.REFUSED)] * 2
    assert alerts(compound) == []
    # A forgery is still one.
    from gatehouse.codes.keys import SigningKey
    [forged] = take(desk, order(4, key=SigningKey.generate()))
    assert forged.seq == 0 and alerts(compound) == ["district_order_forged"]


def test_held_hostile_contents_signed_by_the_district_are_refused_with_reasons(compound):
    """Held: a template admitting red codes, NaN or 10**400 in a policy, a seq over
    2**53, 5,000 levels of nesting: each refused with a reason, nothing applied. A
    building named with markup is a building name (the pages escape it)."""
    cfg = linked(compound)
    desk = desk_of(compound, cfg)
    current = bundle_of(compound).policy.to_json()
    deep: dict = {}
    d = deep
    for _ in range(5000):
        d["a"] = {}
        d = d["a"]
    reports = take(desk, order(1, OrderKind.POLICY, building=None,
                               policy={**current, "health": {**current["health"],
                                                             "red": "admit"}}),
                   raw_order(body(2, policy={**current, "code_skew_seconds": float("nan")})),
                   raw_order(body(3, policy={**current, "code_skew_seconds": 10**400})),
                   raw_order(body(2**64)), raw_order(body(5, policy=deep)))
    assert all(r.status is ReportStatus.REFUSED and r.reason for r in reports), reports
    assert bundle_of(compound).policy.to_json() == current
    [r] = take(desk, order(6, building="<img src=x onerror=alert(1)>"))
    assert r.status is ReportStatus.APPLIED


def test_held_an_order_list_of_10000_entries_is_refused_whole(compound):
    """Held: the wire allows 200 orders a list; 10,000 is one quarantined message at the
    hub (hub/district_uplink.py parses with the wire model), nothing applied."""
    big = OrderList.model_construct(v=1, district="street1", compound="c1",
                                    orders=[order(1)] * 10_000)
    with pytest.raises(WireError):
        parse(OrderList, dump(big))


def test_an_order_over_the_hubs_size_limit_is_refused_under_its_seq(compound):
    """Held since D7's fix: the district's page validates a template as a Policy, whose
    lists have no length limit: 9,000 'pass' in one list make a signed order over the
    hub's 32 KiB; the hub refuses it under its seq (the district stops sending it), no
    forged-order alert, and the next order applies."""
    cfg = linked(compound)
    desk = desk_of(compound, cfg)
    current = bundle_of(compound).policy.to_json()
    huge = {**current, "requirements": {**current["requirements"],
                                        "resident": {"in": ["pass"] * 9000, "out": ["pass"]}}}
    text = order(1, OrderKind.POLICY, building=None, policy=huge)
    assert len(base64.b64decode(text)) > 32 * 1024
    [r] = take(desk, text)
    assert (r.seq, r.status) == (1, ReportStatus.REFUSED) and alerts(compound) == []
    [ok] = take(desk, order(2))
    assert ok.status is ReportStatus.APPLIED
