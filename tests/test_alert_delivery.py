"""Alerts reach the office's groups: WeCom and DingTalk robots (native payloads, DingTalk's
signature), the webhook, SMS for the few kinds that warrant it; one message per burst,
quiet hours, retries, personal data masked; the page listing what was sent and failed."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

from hub import alert_log, meta, notify, schema
from hub.alert_delivery import CURSOR, AlertDelivery, config_path, queue_new
from hub.alert_kinds import AlertKind
from hub.alert_rules import (
    AlertRoute,
    AlertRules,
    AlertRulesError,
    RouteChannel,
    alert_body,
    load_rules,
    quiet_end,
    save_rules,
)
from hub.alert_senders import dingtalk_sign
from hub.notify_senders import verify
from tests.conftest import T0, ZONE
from tests.processes import answer_json, http_server
from tests.test_hub_web_app import app, as_user, post, web_config  # noqa: F401

DING_SECRET = "SEC0123456789abcdef"
T = float(T0)   # 08:00 in the compound


class Robot:
    """A real local HTTP server playing a WeCom and a DingTalk group robot: it checks
    each payload's shape and the DingTalk signature as the real ones do, and answers
    with their errcode JSON."""

    def __init__(self):
        self.got: list[dict] = []     # {"robot", "doc", "query", "headers"}
        self.refused: list[str] = []
        self.fail_next = 0            # answer 500 this many times first
        self.url = ""

    def wecom(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key=wecom-key-1"

    def dingtalk(self) -> str:
        return f"{self.url}/robot/send?access_token=ding-token-1"

    def of(self, robot: str) -> list[dict]:
        return [g["doc"] for g in self.got if g["robot"] == robot]

    def check(self, path: str, query: dict, doc: dict) -> tuple[str, int, str]:
        if path == "/cgi-bin/webhook/send":
            if query.get("key") != ["wecom-key-1"]:
                return "wecom", 93000, "invalid webhook url"
            ok = (doc.get("msgtype") == "text" and isinstance(doc["text"].get("content"), str)
                  and len(doc["text"]["content"].encode()) <= 2048) or (
                doc.get("msgtype") == "markdown" and isinstance(doc["markdown"].get("content"), str))
            return "wecom", 0 if ok else 40008, "ok" if ok else "invalid message type"
        if path == "/robot/send":
            ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            want = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
            fresh = ts.isdigit() and abs(int(ts) / 1000 - time.time()) < 3600
            if query.get("access_token") != ["ding-token-1"] or not fresh or \
                    not hmac.compare_digest(sign, want):
                return "dingtalk", 310000, "sign not match"
            ok = doc.get("msgtype") == "text" and isinstance(doc["text"].get("content"), str)
            return "dingtalk", 0 if ok else 40035, "ok" if ok else "bad message"
        return "webhook", 0, "ok"


@pytest.fixture
def robot():
    rob = Robot()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = urllib.parse.urlsplit(self.path)
            # parse_qs undoes the URL quoting, as the robot's server does
            query = urllib.parse.parse_qs(parts.query)
            if rob.fail_next:
                rob.fail_next -= 1
                return answer_json(self, 500, "busy")
            doc = json.loads(raw)
            name, code, msg = rob.check(parts.path, query, doc)
            if code:
                rob.refused.append(f"{name} {code}")
            else:
                rob.got.append({"robot": name, "doc": doc, "headers": dict(self.headers),
                                "raw": raw})
            answer_json(self, 200, json.dumps({"errcode": code, "errmsg": msg}))

        def log_message(self, *args):
            pass

    with http_server(Handler) as rob.url:
        yield rob


@pytest.fixture
def db(tmp_path):
    d = schema.open_db(tmp_path / "hub" / "hub.db")
    meta.set_meta(d, "compound", "测试小区")
    d["gates"].insert({"id": "gate-north", "name": "北门", "added_at": T0, "online": 1})
    yield d
    d.close()


def raise_alert(db, at, kind=AlertKind.HEALTH_RED, gate="gate-north", n=[0], **detail):
    n[0] += 1
    alert_log.add_alert(db, at, gate, kind, f"ev{n[0]}", detail)


def routes(robot, **over) -> AlertRules:
    return AlertRules((
        AlertRoute("office", RouteChannel.WECOM, robot.wecom(), burst_s=60, **over),
        AlertRoute("street", RouteChannel.DINGTALK, robot.dingtalk(), DING_SECRET,
                   kinds=(AlertKind.HEALTH_RED.value, AlertKind.DOOR_FORCED.value),
                   burst_s=60, **over)))


def deliver(db, rules: AlertRules, now: float):
    path = config_path(db.conn.execute("pragma database_list").fetchone()[2].rsplit("/", 1)[0])
    save_rules(path, rules)
    return AlertDelivery(path).run(db, now)


# Pure rules -------------------------------------------------------------------------

@pytest.mark.parametrize("quiet, at, end", [
    ("22:00-07:00", "23:30", "07:00+1"), ("22:00-07:00", "06:59", "07:00"),
    ("22:00-07:00", "07:00", None), ("22:00-07:00", "12:00", None),
    ("12:00-13:30", "12:10", "13:30"), ("12:00-13:30", "13:30", None)])
def test_quiet_hours_end_when_they_say(quiet, at, end):
    day = T - 8 * 3600                       # midnight before T0
    h, m = map(int, at.split(":"))
    got = quiet_end(quiet, day + h * 3600 + m * 60, ZONE)
    if end is None:
        assert got is None
    else:
        eh, em = map(int, end.split("+")[0].split(":"))
        assert got == day + eh * 3600 + em * 60 + (86400 if "+1" in end else 0)


def test_a_route_says_what_is_wrong_with_it():
    with pytest.raises(AlertRulesError, match="SMS is for .* not HEALTH_RED"):
        AlertRoute("duty", RouteChannel.SMS, "https://sms.example/send", "key",
                   kinds=(AlertKind.HEALTH_RED.value,), phones=("13812341234",))
    with pytest.raises(AlertRulesError, match="no alert kind 'RED'"):
        AlertRoute("x", RouteChannel.WECOM, "https://w.example/", kinds=("RED",))
    with pytest.raises(AlertRulesError, match="starts with SEC"):
        AlertRoute("x", RouteChannel.DINGTALK, "https://d.example/", "nope")
    with pytest.raises(AlertRulesError, match="quiet hours"):
        AlertRoute("x", RouteChannel.WECOM, "https://w.example/", quiet="10pm-7am")
    ok = AlertRoute("duty", RouteChannel.SMS, "https://sms.example/send", "key",
                    kinds=(AlertKind.DOOR_FORCED.value,), phones=("13812341234",))
    assert ok.wants("door_forced", "any") and not ok.wants("HEALTH_RED", "any")


def test_the_message_masks_the_person_and_counts_the_burst():
    body = alert_body("HEALTH_RED", [("gate-north", "北门", 10)], T, T + 50, ZONE, "测试小区",
                      {"name": "张三丰", "household": "7-2-302", "waybill": "SF123"})
    assert body.splitlines()[0] == "【测试小区】红码 Red health code ×10"
    assert "北门 (gate-north)" in body and "08:00:00–08:00:50" in body
    assert "张*丰 7-2-**2" in body
    assert "张三丰" not in body and "7-2-302" not in body and "SF123" not in body


def test_the_routes_file_is_private(tmp_path):
    path = tmp_path / "alerts.json"
    save_rules(path, AlertRules((AlertRoute("a", RouteChannel.FILE, str(tmp_path / "x")),)))
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_rules(path).routes[0].name == "a"
    os.chmod(path, 0o644)
    with pytest.raises(AlertRulesError, match="readable by others"):
        load_rules(path)


# Delivery through a real HTTP server --------------------------------------------------

def test_wecom_and_a_signed_dingtalk_get_one_message_per_burst(db, robot):
    rules = routes(robot)
    deliver(db, rules, T)                         # the first pass starts the cursor
    for i in range(10):                           # ten red codes in a minute
        raise_alert(db, T + 5 * i, name="张三丰", household="7-2-302")
    raise_alert(db, T + 20, AlertKind.DOOR_HELD)
    deliver(db, rules, T + 50)
    assert robot.got == []                        # the burst window is still open
    raise_alert(db, T + 55, name="李四", household="7-2-301")
    assert deliver(db, rules, T + 81) == (3, 0)   # each window: 60 s from its first alert
    wecom = robot.of("wecom")
    assert sorted(d["text"]["content"].splitlines()[0] for d in wecom) == [
        "【测试小区】红码 Red health code ×11", "【测试小区】门长时间未关 Door held open"]
    ding = robot.of("dingtalk")                   # the DingTalk route wants red codes only
    assert [d["msgtype"] for d in ding] == ["text"]
    assert ding[0]["text"]["content"].startswith("【测试小区】红码 Red health code ×11")
    assert "李*" in ding[0]["text"]["content"]
    assert all("张三丰" not in g["raw"].decode() and "李四" not in g["raw"].decode()
               for g in robot.got)
    assert robot.refused == []
    # The next red code is a new burst, not a repeat of the old one.
    raise_alert(db, T + 200)
    deliver(db, rules, T + 200)
    deliver(db, rules, T + 261)
    assert robot.of("wecom")[-1]["text"]["content"].splitlines()[0] == \
        "【测试小区】红码 Red health code"


def test_red_codes_at_several_gates_in_a_minute_are_one_message(db, robot):
    db["gates"].insert({"id": "gate-south", "name": "南门", "added_at": T0, "online": 1})
    rules = routes(robot)
    deliver(db, rules, T)
    for i in range(7):
        raise_alert(db, T + 5 * i)
    for i in range(3):
        raise_alert(db, T + 7 + 5 * i, gate="gate-south")
    deliver(db, rules, T + 61)
    lines = robot.of("wecom")[0]["text"]["content"].splitlines()
    assert lines[:2] == ["【测试小区】红码 Red health code ×10",
                         "门岗 Gates: 北门 (gate-north) ×7，南门 (gate-south) ×3"]
    assert len(robot.of("wecom")) == 1 and len(robot.of("dingtalk")) == 1
    raise_alert(db, T + 100, gate="gate-south")          # after the message: the next burst
    deliver(db, rules, T + 101)
    deliver(db, rules, T + 161)
    assert robot.of("wecom")[1]["text"]["content"].splitlines()[:2] == [
        "【测试小区】红码 Red health code", "门岗 Gate: 南门 (gate-south)"]


def test_a_route_for_one_gate_counts_that_gate_only(db, robot):
    db["gates"].insert({"id": "gate-south", "name": "南门", "added_at": T0, "online": 1})
    rules = AlertRules((AlertRoute("north-desk", RouteChannel.WECOM, robot.wecom(),
                                   gates=("gate-north",), burst_s=60),))
    deliver(db, rules, T)
    raise_alert(db, T + 1, gate="gate-south")
    raise_alert(db, T + 2)
    raise_alert(db, T + 3, gate="gate-south")
    raise_alert(db, T + 4)
    deliver(db, rules, T + 62)
    assert [d["text"]["content"].splitlines()[:2] for d in robot.of("wecom")] == [
        ["【测试小区】红码 Red health code ×2", "门岗 Gate: 北门 (gate-north)"]]


def test_a_failed_try_is_retried_with_backoff_and_a_refusal_is_listed(db, robot):
    rules = routes(robot)
    deliver(db, rules, T)
    raise_alert(db, T + 1)
    robot.fail_next = 2                            # the robot's server is down twice
    assert deliver(db, rules, T + 61) == (0, 2)   # both routes failed once
    assert deliver(db, rules, T + 62) == (0, 0)   # backing off (30 s)
    assert deliver(db, rules, T + 92) == (2, 0)
    tries = [r["attempts"] for r in db.query("select attempts from notifications")]
    assert tries == [2, 2]
    # A DingTalk robot whose secret was changed: its signature fails, a permanent refusal.
    wrong = AlertRules((AlertRoute("street", RouteChannel.DINGTALK, robot.dingtalk(),
                                   "SECwrong", burst_s=0),))
    raise_alert(db, T + 100)
    deliver(db, wrong, T + 100)
    failed = list(db.query("select * from notifications where state = 'failed'"))
    assert len(failed) == 1 and "errcode 310000" in failed[0]["last_error"]
    assert "ding-token-1" not in failed[0]["last_error"]   # the robot's key stays hidden


def test_quiet_hours_hold_a_burst_until_morning_but_not_a_forced_door(db, robot):
    night = T + 15 * 3600                          # 23:00
    rules = routes(robot, quiet="22:00-07:00")
    deliver(db, rules, night)
    raise_alert(db, night + 1)
    raise_alert(db, night + 2, AlertKind.DOOR_FORCED)
    deliver(db, rules, night + 120)
    assert sorted(d["text"]["content"].splitlines()[0] for d in robot.of("wecom")) == [
        "【测试小区】门被强行打开 Door forced"]
    raise_alert(db, night + 3600)                 # another red code at midnight
    deliver(db, rules, night + 3600 + 120)
    assert len(robot.of("wecom")) == 1
    deliver(db, rules, T + 23 * 3600 + 1)          # 07:00:01 next morning
    assert robot.of("wecom")[-1]["text"]["content"].splitlines()[0] == \
        "【测试小区】红码 Red health code ×2"


def test_the_webhook_and_sms_routes_use_the_existing_senders(db, robot):
    rules = AlertRules((
        AlertRoute("ops", RouteChannel.WEBHOOK, robot.url + "/hook", "hook-secret", burst_s=0),
        AlertRoute("duty", RouteChannel.SMS, robot.url + "/sms", "sms-key", sign="测试小区",
                   kinds=(AlertKind.DOOR_FORCED.value,), phones=("13812341234", "13900001111"),
                   burst_s=0)))
    deliver(db, rules, T)
    raise_alert(db, T + 1, AlertKind.DOOR_FORCED)
    raise_alert(db, T + 2)
    assert deliver(db, rules, T + 3) == (4, 0)
    hooks = [g for g in robot.got if "recipient" in g["doc"]]
    sms = [g["doc"] for g in robot.got if "phone" in g["doc"]]
    assert sorted(d["phone"] for d in sms) == ["13812341234", "13900001111"]
    assert all(d["content"].startswith("门被强行打开") for d in sms)   # the gateway signs
    assert len(hooks) == 2 and all(
        verify("hook-secret", g["raw"], g["headers"]["X-Gatehouse-Signature"]) for g in hooks)
    assert {g["doc"]["kind"] for g in hooks} == {"alert"}


def test_residents_notices_still_go_through_their_own_sender(db, robot, tmp_path):
    notify.queue(db, kind=notify.Kind.PICKUP, key="household:7-2-301", body="您有1件快递待取",
                 at=T, recipient="13812341234")
    rules = routes(robot)
    deliver(db, rules, T)
    raise_alert(db, T + 1)
    sent = tmp_path / "sent.jsonl"
    worker_pass = notify.outbox_pass
    alerts = AlertDelivery(config_path(tmp_path / "hub"))
    worker_pass(db, notify.FileSender(sent), alerts, T + 61)
    assert [json.loads(x)["kind"] for x in sent.read_text().splitlines()] == ["pickup"]
    assert len(robot.of("wecom")) == 1 and len(robot.of("dingtalk")) == 1
    assert meta.get_meta(db, CURSOR) is not None


def test_dingtalk_signature_matches_the_documented_example():
    # DingTalk's own documentation: sign = urlEncode(base64(HmacSHA256(secret,
    # timestamp + "\n" + secret))); computed independently here.
    ts, secret = 1577262236757, "SECxxxx"
    raw = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert dingtalk_sign(secret, ts) == base64.b64encode(raw).decode()


def test_an_upgrade_does_not_send_the_old_alerts(db, robot):
    raise_alert(db, T - 3600)
    rules = routes(robot)
    deliver(db, rules, T)
    deliver(db, rules, T + 120)
    assert robot.got == []
    assert queue_new(db, rules, T + 121) == 0


# The page ------------------------------------------------------------------------------

def save(client, follow=False, **form):
    return client.post("/alerts/delivery/routes", data={"csrf": client.csrf, **form},
                       follow_redirects=follow)


def test_the_page_saves_routes_lists_messages_and_keeps_secrets(as_user, compound, robot):
    admin = as_user("admin")
    r = save(admin, name="street", channel="dingtalk",
             url=robot.dingtalk(), secret=DING_SECRET, kinds=["HEALTH_RED"], quiet="22:00-07:00",
             burst_s="30")
    assert r.status_code == 302
    path = config_path(compound.home.hub)
    assert os.stat(path).st_mode & 0o777 == 0o600
    route = load_rules(path).routes[0]
    assert (route.secret, route.kinds, route.burst_s) == (DING_SECRET, ("HEALTH_RED",), 30.0)
    # Changed without typing the secret again: it is kept.
    save(admin, name="street", channel="dingtalk",
         url=robot.dingtalk(), kinds=["*"])
    assert load_rules(path).routes[0].secret == DING_SECRET
    bad = save(admin, follow=True, name="duty", channel="sms",
               url="https://sms.example/send", secret="k", phones="13812341234",
               kinds=["HEALTH_RED"])
    assert "SMS is for" in bad.get_data(as_text=True)
    page = admin.get("/alerts/delivery/").get_data(as_text=True)
    assert "ding-token-1" not in page and DING_SECRET not in page
    assert 'data-route="street"' in page
    audit = [r["action"] for r in compound.db.query("select action from audit")]
    assert audit.count("alert_route.save") == 2
    assert DING_SECRET not in json.dumps(list(compound.db.query("select * from audit")))
    # "Send a test": the route's robot gets it at the worker's next pass, the list shows it.
    assert post(admin, "/alerts/delivery/routes/street/test").status_code == 302
    assert AlertDelivery(path).run(compound.db, time.time()) == (1, 0)
    assert robot.of("dingtalk")[0]["text"]["content"].startswith("【测试小区】测试消息")
    page = admin.get("/alerts/delivery/?state=sent").get_data(as_text=True)
    assert "测试消息" in page and 'data-route="street"' in page
    # The residents' notifications page and its counts are the residents' only.
    residents = admin.get("/notifications/").get_data(as_text=True)
    assert "测试消息" not in residents
    assert notify.counts(compound.db)["sent"] == 0
    assert notify.counts(compound.db, notify.Kind.ALERT)["sent"] == 1
    # The office reads the page but may not say where alerts go (a route can point
    # anywhere the hub reaches): admins only. A lead likewise; no token, no change.
    staff = as_user("office")
    assert staff.get("/alerts/delivery/").status_code == 200
    assert save(staff, name="x", channel="wecom", url=robot.wecom()).status_code == 403
    assert post(staff, "/alerts/delivery/routes/street/test").status_code == 403
    lead = as_user("lead")
    assert lead.get("/alerts/delivery/").status_code == 200
    assert post(lead, "/alerts/delivery/routes/street/test").status_code == 403
    assert post(lead, "/alerts/delivery/routes/street/delete").status_code == 403
    assert admin.post("/alerts/delivery/routes/street/delete").status_code == 400
    assert post(admin, "/alerts/delivery/routes/street/delete").status_code == 302
    assert load_rules(path).routes == ()


def test_a_stranger_is_sent_to_the_login(app):  # noqa: F811
    client = app.test_client()
    r = client.get("/alerts/delivery/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
