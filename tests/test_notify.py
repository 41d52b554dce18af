"""The notification outbox: queueing and coalescing, delivery with backoff to a real HTTP
receiver, the SMS adapter, the configuration, the worker, `hub notify` and the page."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest
from click.testing import CliRunner

from gatehouse.db import write_transaction
from hub import notify, schema
from hub.cli import main as hub_cli
from hub.notify import (
    BACKOFF_CAP_S,
    HOLD_S,
    MAX_ATTEMPTS,
    FileSender,
    Kind,
    SmsGatewaySender,
    State,
    WebhookSender,
    after_failure,
    backoff,
    batch_body,
    deliver_due,
    pickup_body,
    queue,
)
from hub.notify_senders import (
    ENV_SECRET,
    ENV_SMS_KEY,
    secret_path,
    sender_from_config,
    store_secret,
    verify,
)
from tests.conftest import T0
from tests.processes import answer_json, http_server
from tests.test_hub_web_app import PASSWORD, csrf_of, login, post

SECRET = "s3cret-shared-with-the-receiver"
PHONE = "13812341234"
T = float(T0)
DUE = T + HOLD_S


# Fixtures: a hub database with residents, and a real HTTP receiver --------------------

def add_residents(db) -> None:
    rows = [("7", "2", "301", "张三丰", None), ("7", "2", "301", "张小丰", PHONE),
            ("7", "2", "302", "李四", None)]
    for i, (b, u, r, name, phone) in enumerate(rows):
        db["residents"].insert({"building": b, "unit": u, "room": r, "household": f"{b}-{u}-{r}",
                                "name": name, "phone": phone, "person_ref": f"ref{i}",
                                "added_at": T0, "updated_at": T0})


@pytest.fixture
def db(tmp_path):
    d = schema.open_db(tmp_path / "hub.db")
    add_residents(d)
    yield d
    d.close()


class Receiver:
    """What reached the HTTP server; `replies` are (status, text) given in order, then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: list[tuple[int, str]] = []
        self.url = ""

    def docs(self) -> list[dict]:
        return [json.loads(r["raw"]) for r in self.requests]


@pytest.fixture
def receiver():
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.requests.append({"path": self.path, "headers": self.headers, "raw": raw})
            answer_json(self, *(rec.replies.pop(0) if rec.replies else (200, '{"ok": true}')))

        def log_message(self, *args):
            pass

    with http_server(Handler) as base:
        rec.url = base + "/hook"
        yield rec


def row(db, nid) -> dict:
    return next(db.query("select * from notifications where id = ?", [nid]))


def pickup(db, codes, at=T, household="7-2-301"):
    return queue(db, kind=Kind.PICKUP, key=f"household:{household}", household=household,
                 body=pickup_body(codes, "示范小区"), at=at)


PARCEL = [("B-3-1045", "B-3", "顺丰速运", True)]


# Pure rules ---------------------------------------------------------------------------

@pytest.mark.parametrize("attempts, wait", [(1, 30), (2, 60), (3, 120), (6, 960), (7, 1800),
                                            (12, BACKOFF_CAP_S)])
def test_backoff_doubles_up_to_half_an_hour(attempts, wait):
    assert backoff(attempts) == wait


@pytest.mark.parametrize("attempts, retryable, state, next_try", [
    (1, True, State.PENDING, 130), (MAX_ATTEMPTS - 1, True, State.PENDING, 1900),
    (MAX_ATTEMPTS, True, State.FAILED, None), (1, False, State.FAILED, None)])
def test_after_failure(attempts, retryable, state, next_try):
    assert after_failure(attempts, retryable, 100) == (state, next_try)


def test_pickup_body_is_short_chinese_fresh_first():
    body = pickup_body([("B-3-1046", "B-3", "京东物流", False), ("A-1-0007", "A-1", "顺丰速运", True),
                        ("C-2-0100", "冷柜", "EMS", False)], "示范小区")
    assert body == ("【示范小区】您有3件快递待取：A-1-0007（顺丰，生鲜请尽快）、B-3-1046（京东）、"
                    "C-2-0100（货架冷柜，EMS）。凭出入证或取件码到快递区取件。")
    many = pickup_body([(f"B-3-{i:04d}", "B-3", "", False) for i in range(9)], "示范小区")
    assert "您有9件" in many and "B-3-0005等。" in many and "B-3-0006" not in many
    assert pickup_body([], "示范小区") == ""


def test_batch_body_names_the_building_and_households():
    body = batch_body("7", "蔬菜包", ["7-2-301", "7-2-302"], "示范小区")
    assert body == "【示范小区】7号楼团购「蔬菜包」已到，共2户：7-2-301、7-2-302。请团长到快递区领取分发。"


# Queueing -----------------------------------------------------------------------------

def test_three_parcels_of_one_household_are_one_message(db, receiver):
    codes = [("B-3-1045", "B-3", "顺丰速运", True), ("B-3-1046", "B-3", "京东物流", False),
             ("B-3-1047", "B-3", "中通快递", False)]
    ids = {pickup(db, codes[:n], at=T + 20 * n) for n in (1, 2, 3)}
    assert len(ids) == 1 and db["notifications"].count == 1
    r = row(db, ids.pop())
    assert (r["state"], r["recipient"], r["building"]) == ("pending", PHONE, "7")
    assert r["next_try"] == T + 20 + HOLD_S        # a later parcel does not push it back
    assert deliver_due(db, WebhookSender(receiver.url, SECRET), T + 20 + HOLD_S) == (1, 0)
    [doc] = receiver.docs()
    assert [c in doc["body"] for c in ("B-3-1045", "B-3-1046", "B-3-1047")] == [True] * 3
    # After it went out, the next parcel is a new message.
    assert pickup(db, codes[:1], at=T + 600) != r["id"]


def test_a_household_with_no_phone_is_skipped_and_listed_until_fixed(db, receiver):
    nid = pickup(db, PARCEL, household="7-2-302")
    r = row(db, nid)
    assert (r["state"], r["last_error"], r["recipient"]) == ("skipped", "no phone on file", "")
    sender = WebhookSender(receiver.url, SECRET)
    assert deliver_due(db, sender, DUE + 3600) == (0, 0) and receiver.requests == []
    assert [x["id"] for x in notify.listing(db, "skipped")] == [nid]
    assert notify.counts(db)["skipped"] == 1
    assert notify.retry(db, nid, DUE) is State.SKIPPED          # still no phone
    db["residents"].update(3, {"phone": "13900001111"})
    assert notify.retry(db, nid, DUE, actor="office") is State.PENDING
    assert deliver_due(db, sender, DUE) == (1, 0)
    assert receiver.docs()[0]["recipient"] == "13900001111"
    history = [(e["state_from"], e["state_to"]) for e in db.query(
        "select * from notification_events where notification = ? order by id", [nid])]
    assert history == [(None, "skipped"), ("skipped", "skipped"), ("skipped", "pending"),
                       ("pending", "sent")]


def test_a_skipped_household_gets_its_message_once_a_phone_is_on_file(db):
    first = pickup(db, PARCEL, household="7-2-302")
    db["residents"].update(3, {"phone": "13900001111"})
    assert pickup(db, PARCEL * 2, household="7-2-302", at=T + 30) == first
    assert (row(db, first)["state"], row(db, first)["last_error"]) == ("pending", None)


def test_queue_inside_the_callers_transaction_is_part_of_it(db):
    with pytest.raises(RuntimeError), write_transaction(db):
        pickup(db, PARCEL)
        raise RuntimeError("the parcel change failed")
    assert db["notifications"].count == 0 and db["notification_events"].count == 0
    with write_transaction(db):
        nid = pickup(db, PARCEL)
    assert row(db, nid)["state"] == "pending"
    assert queue(db, kind="pickup", key="household:7-2-301", body="  ", at=T) is None


def test_a_building_message_has_no_phone_and_goes_to_the_webhook(db, receiver):
    nid = queue(db, kind=Kind.BATCH, key="building:7:batch:b1", building="7", at=T,
                body=batch_body("7", "蔬菜包", ["7-2-301"], "示范小区"))
    assert deliver_due(db, WebhookSender(receiver.url, SECRET), DUE) == (1, 0)
    assert receiver.docs()[0] | {"body": ""} == {
        "recipient": "", "body": "", "kind": "batch", "key": "building:7:batch:b1", "id": nid,
        "household": None, "building": "7"}


# Delivery over a real HTTP server -----------------------------------------------------

def test_webhook_delivers_a_signed_message(db, receiver):
    nid = pickup(db, PARCEL)
    sender = WebhookSender(receiver.url, SECRET)
    assert deliver_due(db, sender, DUE - 1) == (0, 0)            # still held for coalescing
    assert deliver_due(db, sender, DUE) == (1, 0)
    [req] = receiver.requests
    assert verify(SECRET, req["raw"], req["headers"]["X-Gatehouse-Signature"])
    assert not verify("another secret", req["raw"], req["headers"]["X-Gatehouse-Signature"])
    assert req["headers"]["X-Gatehouse-Id"] == str(nid)
    doc = json.loads(req["raw"])
    assert (doc["recipient"], doc["kind"], doc["key"], doc["id"]) == (
        PHONE, "pickup", "household:7-2-301", nid)
    assert doc["body"].startswith("【示范小区】您有1件快递待取：B-3-1045（顺丰，生鲜请尽快）")
    r = row(db, nid)
    assert (r["state"], r["attempts"], r["sent_at"], r["channel"]) == ("sent", 1, DUE, "webhook")
    assert deliver_due(db, sender, DUE + 3600) == (0, 0) and len(receiver.requests) == 1


def test_503_twice_then_200_is_sent_on_the_third_pass(db, receiver):
    receiver.replies = [(503, "busy"), (503, "busy")]
    nid = pickup(db, PARCEL)
    sender = WebhookSender(receiver.url, SECRET)
    assert deliver_due(db, sender, DUE) == (0, 1)
    r = row(db, nid)
    assert (r["state"], r["attempts"], r["next_try"]) == ("pending", 1, DUE + 30)
    assert r["last_error"].startswith("HTTP 503")
    assert deliver_due(db, sender, DUE + 29) == (0, 0)          # not yet due
    assert deliver_due(db, sender, DUE + 30) == (0, 1)
    assert row(db, nid)["next_try"] == DUE + 30 + 60
    assert deliver_due(db, sender, DUE + 90) == (1, 0)
    r = row(db, nid)
    assert (r["state"], r["attempts"], r["last_error"]) == ("sent", 3, None)
    assert {q["headers"]["X-Gatehouse-Id"] for q in receiver.requests} == {str(nid)}


def test_400_fails_at_once_and_keeps_the_error(db, receiver):
    receiver.replies = [(400, '{"error": "unknown recipient"}')]
    nid = pickup(db, PARCEL)
    assert deliver_due(db, WebhookSender(receiver.url, SECRET), DUE) == (0, 1)
    r = row(db, nid)
    assert (r["state"], r["attempts"]) == ("failed", 1)
    assert "HTTP 400" in r["last_error"] and "unknown recipient" in r["last_error"]
    assert deliver_due(db, WebhookSender(receiver.url, SECRET), DUE + 86400) == (0, 0)
    assert [x["id"] for x in notify.listing(db, State.FAILED)] == [nid]


@pytest.mark.parametrize("status", [429, 408, 500])
def test_throttling_and_server_errors_are_retried(db, receiver, status):
    receiver.replies = [(status, "")]
    nid = pickup(db, PARCEL)
    assert deliver_due(db, WebhookSender(receiver.url, SECRET), DUE) == (0, 1)
    assert row(db, nid)["state"] == "pending"


def test_connection_refused_schedules_a_retry(db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nid = pickup(db, PARCEL)
    assert deliver_due(db, WebhookSender(f"http://127.0.0.1:{port}/", SECRET, 1), DUE) == (0, 1)
    r = row(db, nid)
    assert (r["state"], r["attempts"], r["next_try"]) == ("pending", 1, DUE + 30)
    assert "refused" in r["last_error"].lower()


def test_it_gives_up_after_eight_tries(db, receiver):
    receiver.replies = [(503, "down")] * 20
    nid = pickup(db, PARCEL)
    sender, now, waits = WebhookSender(receiver.url, SECRET), DUE, []
    for _ in range(MAX_ATTEMPTS):
        assert deliver_due(db, sender, now) == (0, 1)
        if row(db, nid)["next_try"] is not None:
            waits.append(row(db, nid)["next_try"] - now)
            now = row(db, nid)["next_try"]
    r = row(db, nid)
    assert (r["state"], r["attempts"], len(receiver.requests)) == ("failed", 8, 8)
    assert waits == [30, 60, 120, 240, 480, 960, 1800]


def test_a_body_replaced_while_on_the_wire_follows_in_a_second_message(db, tmp_path):
    nid = pickup(db, PARCEL)

    class Slow:
        # Another connection (the parcel code) adds a parcel while this one is sending.
        channel = "test"
        bodies: list[str] = []

        def send(self, recipient, body, meta):
            self.bodies.append(body)
            if len(self.bodies) == 1:
                other = schema.open_db(tmp_path / "hub.db")
                pickup(other, PARCEL + [("B-3-1046", "B-3", "京东物流", False)], at=DUE)
                other.close()

    assert deliver_due(db, Slow(), DUE) == (1, 0)
    first, second = notify.listing(db)[::-1]
    assert first["id"] == nid and first["state"] == "sent" and "B-3-1046" not in first["body"]
    assert second["state"] == "pending" and "B-3-1046" in second["body"]
    assert deliver_due(db, Slow(), DUE) == (1, 0)
    assert "B-3-1046" in Slow.bodies[1]


def test_deliver_due_refuses_to_send_inside_a_transaction(db, receiver):
    with pytest.raises(notify.NotifyError), write_transaction(db):
        deliver_due(db, WebhookSender(receiver.url, SECRET), DUE)


def test_two_passes_at_once_send_each_message_once(db, receiver, tmp_path):
    pickup(db, PARCEL)
    for i in range(20):
        queue(db, kind="batch", key=f"building:{i}:batch:x", building=str(i), body="团购", at=T)
    results = []

    def one_pass():        # a connection of its own, as the worker and `hub notify send-due`
        d = schema.open_db(tmp_path / "hub.db")
        results.append(deliver_due(d, WebhookSender(receiver.url, SECRET), DUE))
        d.close()

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(s for s, _ in results) == 21 and len(receiver.requests) == 21
    assert len({d["id"] for d in receiver.docs()}) == 21


# The SMS adapter and the file sender --------------------------------------------------

def test_sms_gateway_posts_phone_content_sign_and_key(db, receiver):
    nid = pickup(db, PARCEL)
    assert deliver_due(db, SmsGatewaySender(receiver.url, "k-123", "示范小区"), DUE) == (1, 0)
    [req] = receiver.requests
    assert req["headers"]["Content-Type"].startswith("application/json")
    doc = json.loads(req["raw"])
    assert doc == {"phone": PHONE, "sign": "示范小区", "key": "k-123",
                   "content": "您有1件快递待取：B-3-1045（顺丰，生鲜请尽快）。凭出入证或取件码到快递区取件。"}
    assert row(db, nid)["channel"] == "sms"


def test_sms_gateway_form_and_a_refusal_in_a_200_reply(db, receiver):
    receiver.replies = [(200, '{"ok": false, "message": "sign not approved"}')]
    nid = pickup(db, PARCEL)
    assert deliver_due(db, SmsGatewaySender(receiver.url, "k", "示范小区", form=True), DUE) == (0, 1)
    form = urllib.parse.parse_qs(receiver.requests[0]["raw"].decode())
    assert form["phone"] == [PHONE] and form["sign"] == ["示范小区"] and form["key"] == ["k"]
    r = row(db, nid)
    assert r["state"] == "failed" and "sign not approved" in r["last_error"]


def test_a_vendor_subclass_maps_the_fields(receiver):
    class Vendor(SmsGatewaySender):
        FIELDS = {"phone": "PhoneNumbers", "content": "Content", "sign": "SignName",
                  "key": "AccessKey"}

    Vendor(receiver.url, "k", "示范小区").send(PHONE, "【示范小区】取件码B-3-1045", {})
    assert receiver.docs() == [{"PhoneNumbers": PHONE, "Content": "取件码B-3-1045",
                                "SignName": "示范小区", "AccessKey": "k"}]


def test_sms_cannot_send_a_building_message(db, receiver):
    nid = queue(db, kind="batch", key="building:7:batch:b1", building="7", body="团购到了", at=T)
    assert deliver_due(db, SmsGatewaySender(receiver.url, "k", "示范小区"), DUE) == (0, 1)
    assert row(db, nid)["state"] == "failed" and receiver.requests == []


def test_file_sender_appends_json_lines(db, tmp_path):
    pickup(db, PARCEL)
    pickup(db, PARCEL, household="7-2-302")
    out = tmp_path / "sent.jsonl"
    assert deliver_due(db, FileSender(out), DUE) == (1, 0)
    [line] = out.read_text().splitlines()
    assert json.loads(line)["recipient"] == PHONE


# Configuration, the worker and the command line ---------------------------------------

def test_sender_from_config(home, monkeypatch):
    monkeypatch.delenv(ENV_SECRET, raising=False)
    monkeypatch.delenv(ENV_SMS_KEY, raising=False)
    assert sender_from_config(home) is None
    notify.save_config(home, notify.NotifyConfig(notify.Channel.WEBHOOK, url="http://x/"))
    with pytest.raises(notify.NotifyError, match="no webhook secret"):
        sender_from_config(home)
    store_secret(secret_path(home), "from-file")
    assert sender_from_config(home).secret == "from-file"
    monkeypatch.setenv(ENV_SECRET, "from-env")
    assert sender_from_config(home).secret == "from-env"
    monkeypatch.delenv(ENV_SECRET)
    secret_path(home).chmod(0o644)
    with pytest.raises(notify.NotifyError, match="readable by others"):
        sender_from_config(home)
    notify.save_config(home, notify.NotifyConfig(notify.Channel.SMS, url="http://x/", sign="s"))
    monkeypatch.setenv(ENV_SMS_KEY, "k")
    s = sender_from_config(home)
    assert isinstance(s, SmsGatewaySender) and (s.api_key, s.sign_name) == ("k", "s")


def test_the_worker_delivers_on_its_own_connection(compound, receiver):
    add_residents(compound.db)
    nid = pickup(compound.db, PARCEL)
    worker = notify.notify_worker(compound.home.hub_db, WebhookSender(receiver.url, SECRET),
                                 interval=0.05, clock=lambda: DUE).start()
    deadline = time.monotonic() + 10
    while row(compound.db, nid)["state"] != "sent" and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    assert row(compound.db, nid)["state"] == "sent" and len(receiver.requests) == 1


def test_hub_notify_set_show_send_due(compound, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_SECRET, raising=False)
    add_residents(compound.db)
    pickup(compound.db, PARCEL, at=time.time() - 2 * HOLD_S)
    home = str(compound.home.root)
    run = CliRunner().invoke
    r = run(hub_cli, ["notify", "send-due", "--home", home])
    assert r.exit_code == 1 and "off" in r.output
    r = run(hub_cli, ["notify", "set", "--home", home, "--webhook", "http://127.0.0.1:9/h"])
    assert r.exit_code == 0, r.output
    assert oct(secret_path(compound.home).stat().st_mode & 0o777) == "0o600"
    secret = secret_path(compound.home).read_text()
    run(hub_cli, ["notify", "set", "--home", home, "--webhook", "http://127.0.0.1:9/h"])
    assert secret_path(compound.home).read_text() == secret      # kept, not replaced
    assert secret not in (compound.home.hub / "notify.json").read_text()
    out = tmp_path / "out.jsonl"
    assert run(hub_cli, ["notify", "set", "--home", home, "--file", str(out)]).exit_code == 0
    r = run(hub_cli, ["notify", "send-due", "--home", home])
    assert r.exit_code == 0 and "sent 1, failed 0" in r.output
    assert "B-3-1045" in out.read_text()
    doc = json.loads(run(hub_cli, ["notify", "show", "--home", home]).output)
    assert doc["channel"] == "file" and doc["counts"]["sent"] == 1 and doc["problem"] is None
    r = run(hub_cli, ["notify", "set", "--home", home, "--sms-url", "https://sms.example/send",
                      "--sms-sign", "示范小区"], input="key-1\n")
    assert r.exit_code == 0, r.output
    assert (compound.home.hub / "notify-sms.key").read_text() == "key-1"
    assert run(hub_cli, ["notify", "set", "--home", home, "--off"]).exit_code == 0
    assert run(hub_cli, ["notify", "set", "--home", home]).exit_code == 1


# The page -----------------------------------------------------------------------------

@pytest.fixture
def web(compound):
    from hub import users
    from hub.web import WebConfig, create_app
    for name, role in (("admin", "admin"), ("office", "office"), ("lead", "lead"),
                       ("observer", "observer")):
        users.add_user(compound.db, name, PASSWORD, role, T0)
    add_residents(compound.db)
    app = create_app(WebConfig(home=compound.home, clock=lambda: DUE + 3600,
                               secret_key=b"k" * 32))

    def as_user(name):
        client = app.test_client()
        assert login(client, name).status_code == 302
        client.csrf = csrf_of(client.get("/").get_data(as_text=True))
        return client
    return as_user


def test_the_page_lists_sent_failed_and_skipped_and_retry_works(compound, web, receiver):
    db = compound.db
    receiver.replies = [(400, "bad number")]
    failed = pickup(db, PARCEL)
    deliver_due(db, WebhookSender(receiver.url, SECRET), DUE)
    sent = queue(db, kind="batch", key="building:7:batch:b1", building="7", at=T,
                 body=batch_body("7", "蔬菜包", ["7-2-301"], "示范小区"))
    deliver_due(db, WebhookSender(receiver.url, SECRET), DUE)
    skipped = pickup(db, PARCEL, household="7-2-302")
    office = web("office")
    html = office.get("/notifications/").get_data(as_text=True)
    for nid, state in ((failed, "failed"), (sent, "sent"), (skipped, "skipped")):
        assert f'data-id="{nid}" data-state="{state}"' in html
    assert "138****1234" in html and PHONE not in html
    assert "bad number" in html and "no phone on file" in html and "蔬菜包" in html
    only_failed = office.get("/notifications/?state=failed").get_data(as_text=True)
    assert f'data-id="{failed}"' in only_failed and f'data-id="{sent}"' not in only_failed

    assert office.post(f"/notifications/{failed}/retry").status_code == 400      # no CSRF
    assert web("lead").get("/notifications/").status_code == 200
    assert post(web("lead"), f"/notifications/{failed}/retry").status_code == 403
    r = post(office, f"/notifications/{failed}/retry", follow=True, state="failed")
    assert r.status_code == 200 and "已重新排队" in r.get_data(as_text=True)
    assert row(db, failed)["state"] == "pending"
    audit = next(db.query("select * from audit where action = 'notification.retry'"))
    assert (audit["actor"], audit["target"]) == ("office", str(failed))
    assert json.loads(audit["before"]) == {"state": "failed"}
    assert json.loads(audit["after"]) == {"state": "pending"}
    assert "仍没有电话" in post(office, f"/notifications/{skipped}/retry", follow=True).get_data(
        as_text=True)
    assert post(office, f"/notifications/{sent}/retry", follow=True).status_code == 200
    assert row(db, sent)["state"] == "sent"
    assert post(office, "/notifications/999/retry").status_code == 404
    assert deliver_due(db, WebhookSender(receiver.url, SECRET), DUE + 3600) == (1, 0)


def test_the_page_needs_a_login(web, compound):
    client = web("admin").application.test_client()
    resp = client.get("/notifications/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_an_observer_sees_households_masked_and_no_pickup_codes(compound, web):
    pickup(compound.db, PARCEL)
    html = web("observer").get("/notifications/").get_data(as_text=True)
    code = PARCEL[0][0]
    assert "7-2-**1" in html and "7-2-301" not in html
    assert code not in html and "仅通知/快递人员可见" in html
    assert code in web("office").get("/notifications/").get_data(as_text=True)
