"""H7 (held): a hostile or buggy gate login sending forged `camera` events. These PASS
at 25c1833: what was checked and held.

- states other than lost/back, NaN/Infinity/negative/1e12 lost_for_s, a 201-character
  or 1,001-character `problem`, a non-string problem: each set aside alone in the
  quarantine with its reason, the rest of its batch stored;
- a `back` sent by another gate's login closes nothing of this gate (the handler keys
  on the topic's gate, and a payload `gate` key naming another gate is refused);
- a replayed `lost` (same id) is stored once, raises nothing new;
- `problem` with markup, a link, newlines, bidi overrides and a person's name:
  escaped on /alerts (Jinja), absent from the office's robot messages
  (alert_body keeps only the masked name/household), absent from the alert topic and
  from the district feed (FeedEvent has no free text).

"""
from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from gatehouse import topics
from gatehouse.events import Event, EventBatch, dump
from hub import alert_topic, district_feed, users
from hub.alert_delivery import _burst_body
from hub.alert_rules import AlertRoute, RouteChannel
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.web import WebConfig, create_app

HANDLERS = event_handlers()
PASSWORD = "correct horse battery"
HOSTILE = ('<script>alert(1)</script><img src=x onerror=alert(2)> [点此](https://evil.example)'
           '\n\u202eEVIL\u202c 张三丰 7-2-302 **bold**')[:200]


def raw_batch(gate: str, events: list[dict]) -> Incoming:
    doc = {"v": 1, "gate": gate, "sent_at": time.time(), "events": events}
    return Incoming(topics.gate_events(gate), json.dumps(doc).encode(), time.time())


def ev(seq: int, payload, at: float | None = None, id_: str | None = None) -> dict:
    return {"seq": seq, "id": id_ or uuid.uuid4().hex, "kind": "camera",
            "at": at or time.time() - 60, "payload": payload}


def run(compound, *messages: Incoming):
    return ingest(compound.db, list(messages),
                  compound.build_bundle(1, int(time.time())).policy, HANDLERS)


def test_forged_states_and_numbers_are_set_aside_alone(compound):
    compound.db["gates"].insert({"id": "north", "name": "north"})
    bad = [{"state": "melted"}, {"state": "LOST"}, {"state": None}, {},
           {"state": "back", "lost_for_s": -1}, {"state": "back", "lost_for_s": 1e12},
           {"state": "back", "lost_for_s": "forever"},
           {"state": "lost", "problem": "x" * 201}, {"state": "lost", "problem": ["x"]}]
    events = [ev(i + 1, p) for i, p in enumerate(bad)]
    events.append(ev(len(bad) + 1, {"state": "lost", "problem": "ok"}))
    nan = ('{"v": 1, "gate": "north", "sent_at": 1, "events": [{"seq": 20, "id": "%s", '
           '"kind": "camera", "at": %f, "payload": {"state": "back", "lost_for_s": NaN}}]}'
           % (uuid.uuid4().hex, time.time()))
    r = run(compound, raw_batch("north", events),
            Incoming(topics.gate_events("north"), nan.encode(), time.time()),
            raw_batch("north", [ev(30, {"state": "lost", "problem": "y" * 1001})]))
    assert r.stored == 1 and r.quarantined == len(bad) + 2
    assert compound.db.execute("select count(*) from alerts").fetchone()[0] == 1


def test_another_gates_back_closes_nothing_and_a_replay_is_stored_once(compound):
    for g in ("north", "south"):
        compound.db["gates"].insert({"id": g, "name": g})
    lost = ev(1, {"state": "lost"})
    run(compound, raw_batch("north", [lost]))
    r = run(compound, raw_batch("south", [ev(1, {"state": "back", "lost_for_s": 1.0}),
                                          ev(2, {"state": "back", "gate": "north"})]),
            raw_batch("north", [lost]))
    assert r.duplicates == 1 and r.quarantined == 1
    rows = list(compound.db.query("select gate, acked_at from alerts"))
    assert rows == [{"gate": "north", "acked_at": None}]


def test_hostile_problem_text_stays_escaped_and_inside_the_hub(compound, tmp_path):
    db = compound.db
    users.add_user(db, "admin", PASSWORD, "admin", time.time() - 3600)
    db["gates"].insert({"id": "north", "name": "北门"})
    run(compound, raw_batch("north", [ev(1, {"state": "lost", "problem": HOSTILE})]))
    app = create_app(WebConfig(home=compound.home, secret_key=b"k" * 32))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "admin", "password": PASSWORD,
                                       "csrf": csrf}).status_code == 302
    html = client.get("/alerts").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    (a,) = db.query("select id from alerts")
    route = AlertRoute("office", RouteChannel.WECOM, "https://robot.example/send?key=k",
                       style="markdown")
    from zoneinfo import ZoneInfo
    body = _burst_body(db, route, "camera_lost", a["id"], a["id"], ZoneInfo("Asia/Shanghai"),
                       "小区", {"north": "北门"})
    assert "evil" not in body.lower() and "script" not in body and "张" not in body
    published = []
    alert_topic.publish_new(db, lambda t, raw: published.append(raw) or True, 0)
    assert published and all(b"evil" not in m.lower() for m in published)
    feed = district_feed.next_events(db, 0, time.time())
    assert feed and "evil" not in json.dumps([f.model_dump() for f in feed]).lower()
