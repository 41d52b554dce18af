"""H-REVIEW s6: hostile messages on the topics HubSync now routes to the district link
(1ad6df3, 9223dfe: a route table on the hub's one MQTT client) must not stop the hub's
MQTT side: a flood of junk, messages of 3 MiB (under the broker's 4 MiB), 100,000
nested brackets, an ack of another compound, on the district's down topics, through the
real bridge into a real `hub serve`. Afterwards a gate's events are still stored and
the district link still takes a true ack. Held."""
from __future__ import annotations

import json

from gatehouse.district_wire import FeedAck
from gatehouse.events import dump
from hub import district_feed
from tests.processes import wait_until
from tests.test_hub_district_link import db_of, events, link, send  # noqa: F401


def test_junk_huge_and_nested_district_messages_stop_nothing(link):  # noqa: F811
    hub = link.hub()
    street = link.street.mqtt
    junk = [b"", b"\xff\xfe", b"null", b"[]", b"{" * 100_000, b"[" * 100_000 + b"]" * 100_000,
            json.dumps({"v": 1, "compound": "c1", "ranges": [[1, 2**70]]}).encode(),
            json.dumps({"v": 1, "compound": "c1", "ranges": [[5, 1]] * 5000}).encode(),
            dump(FeedAck(compound="c2", ranges=[(1, 10**6)])),
            b"x" * (3 * 1024 * 1024), json.dumps({"v": 1, "pad": "y" * (3 * 1024 * 1024)}).encode()]
    for topic in ("district/c1/down/orders", "district/c1/down/ack", "district/c1/down/other"):
        for payload in junk:
            street.c.publish(topic, payload, qos=1)
    for i in range(300):
        street.c.publish("district/c1/down/ack", b"junk %d" % i, qos=1)
    street.c.publish("district/c1/down/ack", b"last", qos=1).wait_for_publish(30)
    db = db_of(link.home)
    wait_until(lambda: db.execute("select count(*) from quarantine").fetchone()[0] >= 320
               or not hub.running(), 90, message="the junk set aside")
    assert hub.running(), hub.tail()
    # The gates' side goes on: events in, the feed out; a true ack is applied.
    send(link.gate, events(1, 5))
    wait_until(lambda: {e.cseq for e in link.street.feed()} >= {1, 2, 3, 4, 5}, 30,
               message="the feed after the junk")
    assert district_feed.first_unacked(db) == 1     # c2's ack and the broken ones: none
    link.street.ack("c1", [(1, 5)])
    wait_until(lambda: district_feed.first_unacked(db) is None, 20, message="the true ack")
    assert hub.running(), hub.tail()
    hub.stop()
