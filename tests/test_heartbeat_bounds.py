"""A gate's heartbeat is bounded (found by the attacking review of session 4): a number
only a tampered gate sends (an outbox of 10**400) was stored and made every /metrics
scrape fail with OverflowError until the gate stopped."""
import json

import pytest

from gatehouse.events import Heartbeat, WireError, parse


def beat(**over) -> bytes:
    doc = {"gate": "gate-1", "at": 1.0, "outbox": 3, "bundle_version": 1,
           "policy_version": 1, "clock_trusted": True, **over}
    return json.dumps(doc).encode()


def test_an_ordinary_heartbeat_is_read():
    assert parse(Heartbeat, beat()).outbox == 3


@pytest.mark.parametrize("field,value", [("outbox", 10**400), ("bundle_version", -1),
                                         ("clock_offset", 1e300), ("manifest_version", 2**70)])
def test_a_heartbeat_with_an_absurd_number_is_refused(field, value):
    with pytest.raises(WireError):
        parse(Heartbeat, beat(**{field: value}))
