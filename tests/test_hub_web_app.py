"""The admin page through Flask's test client: access, CSRF, audit, buildings, residents,
passes, tracing, policy, visitors, privacy. Shared fixtures live here."""
from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest

from gatehouse import topics
from gatehouse.events import Event, EventBatch, EventKind, Heartbeat, dump
from gatehouse.identity import person_ref
from gatehouse.policy import BuildingStatus
from hub import logins, users
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.policy_versions import current_policy
from hub.web import WebConfig, create_app
from kiosk.bundles import load_bundle
from tests.conftest import ALICE_ID, BOB_ID, HOUR, T0

PASSWORD = "correct horse battery"
NOW = T0 + 4 * HOUR          # 12:00 on the test Monday
GOOD_CSV = ("楼号,单元,房号,姓名,电话,身份证号\n"
            f"7,2,301,张三丰,13812341234,{ALICE_ID}\n"
            f"7,2,302,李四,13900001111,{BOB_ID}\n")


@pytest.fixture
def web_config(compound):
    db = compound.db
    for name, role in (("admin", "admin"), ("office", "office"), ("lead", "lead"),
                       ("observer", "observer")):
        users.add_user(db, name, PASSWORD, role, T0)
    db["gates"].insert({"id": "north", "name": "北门", "added_at": T0, "online": 0})
    return WebConfig(home=compound.home, clock=lambda: NOW, secret_key=b"k" * 32,
                     sse_seconds=0.5, sse_poll_s=0.1)


@pytest.fixture
def app(web_config):
    return create_app(web_config)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client, name="admin", password=PASSWORD):
    csrf = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": name, "password": password, "csrf": csrf})
    return resp


@pytest.fixture
def as_user(app):
    def make(name="admin"):
        client = app.test_client()
        assert login(client, name).status_code == 302
        client.csrf = csrf_of(client.get("/").get_data(as_text=True))
        return client
    return make


def post(client, url, follow=False, **data):
    return client.post(url, data={"csrf": client.csrf, **data}, follow_redirects=follow)


def ref_of(compound, id_number):
    return person_ref(compound.binding_key, id_number).hex()


def send(compound, gate, events=(), status=None, beat=None):
    """What a gate sends over MQTT, given to the hub's ingest directly."""
    msgs = []
    if status:
        msgs.append(Incoming(topics.gate_status(gate), status, NOW))
    if beat:
        hb = Heartbeat(gate=gate, at=NOW, outbox=beat.get("outbox", 0), bundle_version=1,
                       policy_version=1, clock_trusted=beat.get("clock", True), fps=12.5,
                       manifest_version=beat.get("manifest"), pins=beat.get("pins", ""))
        msgs.append(Incoming(topics.gate_heartbeat(gate), dump(hb), NOW))
    if events:
        seq0 = (next(compound.db.query("select max(seq) as s from gate_events where gate = ?",
                                       [gate]))["s"] or 0)
        evs = [Event(seq=seq0 + i + 1, id=uuid.uuid4().hex, kind=EventKind.ATTEMPT,
                     at=e.pop("at"), payload=e) for i, e in enumerate(events)]
        msgs.append(Incoming(topics.gate_events(gate),
                             dump(EventBatch(gate=gate, sent_at=NOW, events=evs)), NOW))
    return ingest(compound.db, msgs, current_policy(compound.db), event_handlers())


def attempt(at, direction="in", outcome="admit", ref=None, who="resident", household="7-2-301",
            name="张*丰", reasons=(), alert=False):
    return {"at": at, "direction": direction, "outcome": outcome, "person_ref": ref,
            "household": household if who == "resident" else None,
            "building": household.split("-")[0] if who == "resident" else None,
            "name": name, "who": who, "reasons": list(reasons), "policy_version": 1,
            "alert": alert}


def import_good(client):
    r = post(client, "/residents/import", csv_text=GOOD_CSV, confirmed="yes", issue_passes="on")
    assert r.status_code == 302, r.get_data(as_text=True)


# Access ------------------------------------------------------------------------------

PAGES = ["/", "/alerts", "/buildings/", "/residents/", "/visitors/", "/presence", "/tracing",
         "/policy/", "/audit", "/users", "/residents/export.csv", "/audit.csv"]


def test_every_page_sends_a_stranger_to_the_login(app):
    client = app.test_client()
    for url in PAGES:
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    assert client.get("/events", headers={"Accept": "text/event-stream"}).status_code == 401


def test_login_sets_a_strict_httponly_secure_cookie_and_wrong_passwords_are_throttled(app):
    client = app.test_client()
    resp = login(client)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    other = app.test_client()
    for _ in range(logins.MAX_FAILURES):
        assert login(other, "office", "wrong password!").status_code == 401
    resp = login(other, "office", PASSWORD)          # right password, but too many tries
    assert resp.status_code == 429
    assert "尝试次数过多" in resp.get_data(as_text=True)


def test_a_request_without_the_csrf_token_is_refused(as_user, compound):
    client = as_user("admin")
    resp = client.post("/buildings/set", data={"building": "7", "status": "sealed",
                                               "confirmed": "yes"})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    resp = client.post("/buildings/set", data={"building": "7", "status": "sealed",
                                               "confirmed": "yes", "csrf": "forged"})
    assert resp.status_code == 400
    assert load_bundle(compound.home).buildings.get("7") is None
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}
                       ).status_code == 400   # the login form too


def test_an_observer_sees_everything_and_changes_nothing(as_user, compound):
    client = as_user("observer")
    for url in PAGES[:8] + ["/audit", "/audit.csv"]:
        assert client.get(url).status_code == 200, url
    compound.db["alerts"].insert({"at": NOW, "gate": "north", "kind": "door_forced"})
    before = compound.db["audit"].count
    changes = [("/buildings/set", {"building": "7", "status": "sealed", "confirmed": "yes"}),
               ("/residents/import", {"csv_text": GOOD_CSV, "confirmed": "yes"}),
               ("/passes/revoke/x", {}), ("/passes/issue/1", {"id_number": ALICE_ID}),
               ("/alerts/1/ack", {"note": "seen"}), ("/policy/check", {"doc": "{}"}),
               ("/visitors/", {"name": "王五"}), ("/presence/reset", {}),
               ("/users", {"username": "x", "password": PASSWORD, "role": "admin"}),
               ("/residents/1/unmask", {}), ("/retention/purge", {})]
    for url, data in changes:
        assert post(client, url, **data).status_code == 403, url
    assert compound.db["audit"].count == before
    assert compound.db["residents"].count == 0
    assert next(compound.db.query("select acked_at from alerts"))["acked_at"] is None
    page = client.get("/buildings/").get_data(as_text=True)
    assert 'id="set-building"' not in page


def test_a_changed_password_ends_the_old_session(as_user, compound):
    client = as_user("office")
    users.set_password(compound.db, "office", "another long password")
    assert client.get("/").status_code == 302


def test_logging_out_ends_copies_of_the_cookie_too(as_user, app):
    client = as_user("office")
    copy = app.test_client()
    stolen = client.get_cookie("gatehouse_session")
    copy.set_cookie("gatehouse_session", stolen.value)
    assert copy.get("/").status_code == 200       # a stolen copy works while signed in…
    post(client, "/logout")
    assert copy.get("/").status_code == 302       # …and not after the user signs out


# Buildings ---------------------------------------------------------------------------

def test_sealing_asks_for_confirmation_then_reaches_the_bundle_with_history(as_user, compound):
    client = as_user("office")
    resp = post(client, "/buildings/set", building="7", status="sealed", note="阳性病例")
    assert "确认更改" in resp.get_data(as_text=True)
    assert load_bundle(compound.home).buildings.get("7") is None   # not yet
    resp = post(client, "/buildings/set", building="7", status="sealed", note="阳性病例",
                confirmed="yes")
    assert resp.status_code == 302
    assert load_bundle(compound.home).buildings["7"] is BuildingStatus.SEALED
    page = client.get("/buildings/").get_data(as_text=True)
    assert "封控 sealed" in page and "阳性病例" in page
    row = next(compound.db.query("select * from audit where action = 'building.status'"))
    assert row["actor"] == "office"
    assert json.loads(row["before"]) == {"status": "normal"}
    assert json.loads(row["after"])["status"] == "sealed"
    audit_csv = client.get("/audit.csv").get_data(as_text=True)
    assert "building.status" in audit_csv and "office" in audit_csv


# Residents and passes ----------------------------------------------------------------

def test_a_csv_with_a_bad_row_names_line_and_field_and_imports_nothing(as_user, compound):
    client = as_user("office")
    bad = GOOD_CSV + "7,2,303,王五,12345,110101198001010029\n"
    resp = client.post("/residents/import", data={
        "csrf": client.csrf, "confirmed": "yes", "issue_passes": "on",
        "file": (io.BytesIO(bad.encode()), "residents.csv")}, content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'data-line="4" data-field="phone"' in page and "未导入任何数据" in page
    assert compound.db["residents"].count == 0
    assert compound.db["issued_codes"].count_where("kind = 'pass'") == 0


def test_import_preview_then_search_export_print_and_revoke(as_user, compound):
    client = as_user("office")
    resp = post(client, "/residents/import", csv_text=GOOD_CSV, issue_passes="on")
    assert "预览" in resp.get_data(as_text=True) and compound.db["residents"].count == 0
    import_good(client)
    assert compound.db["residents"].count == 2
    page = client.get("/residents/?q=138****1234").get_data(as_text=True)
    assert "张*丰" in page and "李*" not in page and "张三丰" not in page
    assert "7-2-301" in client.get("/residents/?q=301").get_data(as_text=True)
    exported = list(csv.DictReader(io.StringIO(
        client.get("/residents/export.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["name"] for r in exported] == ["张*丰", "李*"]
    assert exported[0]["phone"] == "138****1234"
    pass_id = exported[0]["pass_id"]
    cards = client.get("/passes/print?building=7").get_data(as_text=True)
    assert cards.count('class="passcard"') == 2 and "data:image/svg+xml" in cards
    assert post(client, f"/passes/revoke/{pass_id}", note="lost").status_code == 302
    assert pass_id in load_bundle(compound.home).revoked
    # Reissue needs the ID number on file.
    rid = next(compound.db.query("select id from residents where household = '7-2-301'"))["id"]
    resp = post(client, f"/passes/issue/{rid}", id_number=BOB_ID)
    assert resp.status_code == 302 and compound.db["pass_texts"].count == 2
    resp = post(client, f"/passes/issue/{rid}", id_number=ALICE_ID)
    assert "/passes/print" in resp.headers["Location"] and compound.db["pass_texts"].count == 3


def test_unmasking_is_for_admins_and_is_logged(as_user, compound):
    office = as_user("office")
    import_good(office)
    assert post(office, "/residents/1/unmask").status_code == 403
    admin = as_user("admin")
    page = post(admin, "/residents/1/unmask", reason="call").get_data(as_text=True)
    assert "张三丰" in page and "13812341234" in page
    row = next(compound.db.query("select * from audit where action = 'resident.unmask'"))
    assert row["actor"] == "admin" and row["target"] == "1"


# Overview and alerts -----------------------------------------------------------------

def test_overview_counts_today_and_alerts_are_acknowledged_with_a_note(as_user, compound):
    alice = ref_of(compound, ALICE_ID)
    send(compound, "north", beat={"outbox": 3})
    send(compound, "north", [attempt(T0 + HOUR, "out", ref=alice),
                             attempt(T0 + 2 * HOUR, "in", "refuse", ref=alice,
                                     reasons=["HEALTH_RED"], alert=True)])
    client = as_user("lead")
    snap = client.get("/api/overview").get_json()
    gate = snap["gates"][0]
    assert gate["online"] and gate["outbox"] == 3 and gate["fps"] == 12.5
    assert snap["totals"] == {"entries": 0, "exits": 1, "refusals": 1, "referrals": 0}
    assert snap["out"] == 1 and snap["alerts"][0]["label"].startswith("红码")
    chart = client.get("/overview/chart.svg").get_data(as_text=True)
    assert chart.startswith("<svg") and "<rect x=" in chart
    aid = snap["alerts"][0]["id"]
    assert "请填写处理说明" in post(client, f"/alerts/{aid}/ack", note="",
                                  follow=True).get_data(as_text=True)
    post(client, f"/alerts/{aid}/ack", note="已通知社区医生")
    assert client.get("/api/overview").get_json()["alerts"] == []
    row = next(compound.db.query("select * from alerts where id = ?", [aid]))
    assert row["acked_by"] == "lead" and row["note"] == "已通知社区医生"


def test_the_event_stream_sends_the_overview(as_user, compound):
    send(compound, "north", status=topics.OFFLINE)
    client = as_user("observer")
    resp = client.get("/events")
    assert resp.mimetype == "text/event-stream"
    body = resp.get_data(as_text=True)
    data = json.loads(next(line[6:] for line in body.splitlines() if line.startswith("data: ")))
    assert data["gates"][0]["online"] is False
    assert data["alerts"][0]["kind"] == "gate_offline"


# Presence and tracing ----------------------------------------------------------------

def test_tracing_timeline_and_contacts_with_csv(as_user, compound):
    alice, bob = ref_of(compound, ALICE_ID), ref_of(compound, BOB_ID)
    send(compound, "north", [attempt(T0, "out", ref=alice),
                             attempt(T0 + 300, "out", ref=bob, household="7-2-302"),
                             attempt(T0 + 3 * HOUR, "in", ref=bob, household="7-2-302"),
                             attempt(T0 - 20 * 86400, "in", ref=alice)])
    client = as_user("observer")
    page = client.get(f"/tracing?kind=timeline&ref={alice}").get_data(as_text=True)
    assert page.count("<tr>") == 2          # header + one passage within 14 days
    viewed = next(compound.db.query("select * from audit where action = 'trace.view'"))
    assert viewed["actor"] == "observer" and alice in viewed["target"]
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"/tracing/export.csv?kind=contacts&ref={alice}&minutes=10").get_data(
        as_text=True).lstrip("\ufeff"))))
    assert [(r["household"], r["minutes_apart"]) for r in rows] == [("7-2-302", "5.0")]
    assert rows[0]["at"].startswith("2026-11-23T08:05")
    none = client.get(f"/tracing/export.csv?kind=contacts&ref={alice}&minutes=2")
    assert none.get_data(as_text=True).count("\n") == 1
    assert compound.db["audit"].count_where("action = 'trace.export'") == 2


def test_presence_out_past_curfew_and_reset_of_visitors_never_scanned_out(as_user, compound):
    alice = ref_of(compound, ALICE_ID)
    send(compound, "north", [attempt(T0 - 14 * HOUR, "out", ref=alice),     # 18:00 Sunday
                             attempt(T0 - 20 * HOUR, "in", ref="ab" * 12, who="visitor",
                                     name="王*")])
    client = as_user("office")
    page = client.get("/presence?after=22:00").get_data(as_text=True)
    late = page.split('id="late"')[1].split("</table>")[0]
    assert "7-2-301" in late
    assert "王*" in page.split('id="inside"')[1]
    post(client, "/presence/reset")
    assert "王*" not in client.get("/presence").get_data(as_text=True).split('id="inside"')[1]
    assert compound.db["presence_resets"].count == 1


# Policy ------------------------------------------------------------------------------

def test_policy_is_validated_and_the_what_if_shows_the_last_day(as_user, compound):
    send(compound, "north", [attempt(NOW - HOUR, "in", ref="cd" * 12, who="visitor",
                                     outcome="refer", reasons=["VISITOR_CHECK"])])
    client = as_user("admin")
    doc = current_policy(compound.db).to_json()
    resp = post(client, "/policy/check", doc=json.dumps({**doc, "visitors": "maybe"}))
    assert resp.status_code == 422 and "visitors" in resp.get_data(as_text=True)
    new = json.dumps({**doc, "visitors": "refuse"})
    page = post(client, "/policy/check", doc=new).get_data(as_text=True)
    assert "查看了1次通行，1次判定会不同" in page and "<b>refuse</b>" in page
    assert current_policy(compound.db).version == 1
    post(client, "/policy/check", doc=new, confirmed="yes", note="no visitors")
    assert load_bundle(compound.home).policy.visitors == "refuse"
    assert as_user("office").post("/policy/check", data={"csrf": "x"}).status_code in (400, 403)


# Visitors, retention -----------------------------------------------------------------

def test_visitors_register_for_a_household_on_file(as_user, compound):
    client = as_user("lead")
    import_good(as_user("office"))
    resp = post(client, "/visitors/", follow=True, name="王小明", host_household="9-9-999",
                from_at="2026-11-23T09:00", until_at="2026-11-23T11:00")
    assert "没有这一户" in resp.get_data(as_text=True) and compound.db["visitors"].count == 0
    post(client, "/visitors/", name="王小明", phone="13700001234", host_household="7-2-301",
         from_at="2026-11-23T09:00", until_at="2026-11-23T11:00")
    page = client.get("/visitors/").get_data(as_text=True)
    assert "王*明" in page and "137****1234" in page and compound.db["visitors"].count == 1
    trace = as_user("observer").get("/tracing?kind=visitors").get_data(as_text=True)
    assert "registered" in trace


def test_retention_purge_deletes_old_personal_records_and_says_when_it_runs(as_user, compound):
    send(compound, "north", [attempt(NOW - 30 * 86400, "in", ref="ef" * 12),
                             attempt(NOW - 86400, "in", ref="ef" * 12)])
    client = as_user("admin")
    page = client.get("/audit").get_data(as_text=True)
    assert "下次自动清理：<b>2026-11-24 03:30</b>" in page
    post(client, "/retention/purge")
    assert compound.db["passages"].count == 1
    assert compound.db["audit"].count_where("action = 'retention.purge'") == 1


def test_the_overview_says_how_old_a_parcel_kiosks_shelf_list_is(as_user, compound):
    compound.db["gates"].insert({"id": "parcels-1", "name": "快递区", "added_at": T0,
                                 "online": 0, "role": "parcels"})
    send(compound, "parcels-1", beat={"manifest": int((NOW - 90) * 1000)})
    client = as_user("observer")
    gates = {g["id"]: g for g in client.get("/api/overview").get_json()["gates"]}
    assert gates["parcels-1"]["manifest_age"] == 90 and gates["north"]["manifest_age"] is None
    assert "清单 list 90 s" in client.get("/").get_data(as_text=True)


def test_a_gate_on_simulated_pins_is_flagged_at_the_office(as_user, compound):
    send(compound, "north", beat={"pins": "mock"})
    ingest(compound.db, [Incoming(topics.gate_events("north"), dump(EventBatch(
        gate="north", sent_at=NOW, events=[Event(seq=1, id=uuid.uuid4().hex,
                                                kind=EventKind.STARTED, at=NOW - 5, payload={
                                                    "gate": "north", "pins": "mock",
                                                    "role": "gate"})])), NOW)],
           current_policy(compound.db), event_handlers())
    page = as_user("lead").get("/").get_data(as_text=True)
    assert "模拟引脚 no door" in page
    assert "门岗以模拟引脚运行" in page
