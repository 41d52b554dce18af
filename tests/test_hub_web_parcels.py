"""The parcel pages through Flask's test client (board, search, exceptions, door runs,
audit sheet, setup, permissions, CSRF) and one door run in a real browser (issue 7)."""
from __future__ import annotations

import dataclasses
import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from gatehouse.codes.kinds import VenueKind
from gatehouse.parcels import carrier_of
from gatehouse.policy import BuildingStatus
from gatehouse.webserver import ThreadedServer
from hub.parcels import handout, intake, settings
from hub.parcels.shelving import Shelf, define_shelf
from hub.parcels.worker import tick
from hub.web import create_app
from tests import test_hub_web_app as web
from tests.test_hub_web_app import NOW, PASSWORD, post

# The admin page's fixtures: a user of every role, the app, a signed-in client.
web_config, app, as_user = web.web_config, web.app, web.as_user

MIN, DAY = 60, 86400
HOUSEHOLDS = ["1-1-101", "1-1-102", "1-2-301", "2-1-101", "5-1-101", "5-1-102", "5-1-103"]


def drop(db, room, at, waybill=None, fresh=False, frozen=False) -> dict:
    waybill = waybill or f"SF{uuid.uuid4().int % 10**13:013d}"
    carrier = carrier_of(waybill)
    pid = intake.create(db, id=uuid.uuid4().hex, waybill=waybill, room=room, at=at,
                        actor="north/赵*", place="north", fresh=fresh, frozen=frozen,
                        gate="north", carrier=carrier and carrier[0],
                        carrier_name=carrier and carrier[1])
    return row(db, pid)


def row(db, pid) -> dict:
    return next(db.query("select * from parcels where id = ?", [pid]))


def cells(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-slot="([A-Z0-9-]+)" data-state="(\w+)"', html))


@pytest.fixture
def area(compound):
    """Three shelves and a parcel in every board state at NOW (12:00 on the test Monday)."""
    db = compound.db
    for hh in HOUSEHOLDS:
        b, u, r = hh.split("-")
        db["residents"].insert({"building": b, "unit": u, "room": r, "household": hh,
                                "name": "张三丰", "phone": "13800000001"})
    define_shelf(db, Shelf("A", "1-2栋", 2, 3, False, ("1", "2")))
    define_shelf(db, Shelf("B", "公共", 2, 2, False, ()))
    define_shelf(db, Shelf("C", "冷柜", 1, 2, True, ()))
    p = {"old": drop(db, "2-1-101", NOW - 4 * DAY),
         "ready": drop(db, "1-1-101", NOW - 60 * MIN),
         "holding": drop(db, "1-1-102", NOW - 10 * MIN),
         "wrong": drop(db, "1-2-301", NOW - 120 * MIN),
         "yto": drop(db, "5-1-101", NOW - 120 * MIN, waybill="YT1234567890123"),
         "fresh": drop(db, "5-1-102", NOW - 5 * MIN, fresh=True),
         "frozen": drop(db, "5-1-103", NOW - 5 * MIN, frozen=True),
         "waiting": drop(db, "5-1-103", NOW - 4 * MIN, frozen=True),
         "unknown": drop(db, "9-9-999", NOW - 30 * MIN),
         "gone": drop(db, "1-1-101", NOW - 180 * MIN)}
    tick(db, NOW)
    handout.mark(db, p["wrong"]["id"], intake.S.MISSHELVED, NOW, "v001", "不在格子里")
    handout.return_to_courier(db, p["gone"]["id"], NOW, "v001", "客户拒收")
    return {k: row(db, v["id"]) for k, v in p.items()}


# The board ------------------------------------------------------------------------

def test_the_board_draws_every_slot_coloured_by_state_with_counts(as_user, area):
    page = as_user("observer").get("/parcels/").get_data(as_text=True)
    board = cells(page)
    assert len(board) == 6 + 4 + 2                          # every slot of every shelf
    assert board == {"A-1-01": "overdue", "A-1-02": "ready", "A-1-03": "holding",
                     "A-2-01": "misshelved", "A-2-02": "free", "A-2-03": "free",
                     "B-1-01": "ready", "B-1-02": "free", "B-2-01": "free", "B-2-02": "free",
                     "C-1-01": "holding", "C-1-02": "holding"}
    assert area["ready"]["code"] in page and "1-1-**1" in page and "1-1-101" not in page
    # The countdown: hold_until for the script, the server's now to count from.
    assert f'data-until="{area["holding"]["hold_until"]}"' in page
    assert f'data-now="{NOW}"' in page and "parcels.js" in page
    counts = dict(re.findall(r'data-count="(\w+)"><b>(\d+)</b>', page))
    assert counts == {"received": "9", "holding": "3", "ready": "2", "out_for_delivery": "0",
                      "picked_up": "0", "delivered": "0", "waiting": "1", "unknown": "1",
                      "overdue": "1", "misshelved": "1", "damaged": "0"}
    assert "冷柜已满" in page.split('data-test="area-full"')[1].split("</p>")[0]
    loose = page.split('id="loose"')[1]
    assert area["unknown"]["waybill"] in loose and "9-9-999" in loose   # the room as keyed
    assert area["waiting"]["waybill"] in loose


def test_filters_by_building_state_and_carrier(as_user, area):
    client = as_user("lead")
    by_building = cells(client.get("/parcels/?building=1").get_data(as_text=True))
    assert by_building["A-1-02"] == "ready" and by_building["A-1-03"] == "holding"
    assert by_building["A-1-01"] == "off" and by_building["B-1-01"] == "off"  # 2 and 5
    by_state = cells(client.get("/parcels/?state=holding").get_data(as_text=True))
    assert sorted(k for k, v in by_state.items() if v == "holding") == ["A-1-03", "C-1-01",
                                                                       "C-1-02"]
    assert by_state["A-1-02"] == "off"
    page = client.get("/parcels/?carrier=yto").get_data(as_text=True)
    by_carrier = cells(page)
    assert [k for k, v in by_carrier.items() if v not in ("off", "free")] == ["B-1-01"]
    assert '<option value="yto" selected>圆通速递</option>' in page
    assert cells(client.get("/parcels/?state=bogus").get_data(as_text=True)) == cells(
        client.get("/parcels/").get_data(as_text=True))      # an unknown state: no filter


def test_search_by_waybill_code_or_room_lists_any_state_with_history(as_user, area):
    client = as_user("observer")

    def found(q):
        page = client.get("/parcels/", query_string={"q": q}).get_data(as_text=True)
        return set(re.findall(r'data-parcel="(\w+)"', page.split('id="search-results"')[1]
                              .split("</table>")[0]))
    assert found(area["gone"]["waybill"]) == {area["gone"]["id"]}      # returned: final
    assert found(area["yto"]["waybill"][-6:]) == {area["yto"]["id"]}    # part of a waybill
    assert found(area["ready"]["code"].lower().replace("-", " ")) == {area["ready"]["id"]}
    assert found("1-1-101") == {area["ready"]["id"], area["gone"]["id"]}
    assert found("1栋1单元101") == {area["ready"]["id"], area["gone"]["id"]}
    assert found("nothing-like-it") == set()
    page = client.get(f"/parcels/{area['gone']['id']}").get_data(as_text=True)
    history = page.split('id="history"')[1]
    assert [s for s in re.findall(r'data-to="(\w+)"', history)] == ["received", "holding",
                                                                     "shelved", "returned"]
    assert "客户拒收" in history and "已退回 returned" in page
    assert 'method="post"' not in page.split("<main>")[1]   # observer, final state: no actions
    assert client.get("/parcels/nope").status_code == 404


# Exceptions -------------------------------------------------------------------------

def actions_on(client, pid) -> list[str]:
    return re.findall(r'data-action="(\w+)"', client.get(f"/parcels/{pid}").get_data(
        as_text=True))


def test_an_unknown_recipient_gets_a_room_and_a_slot(as_user, compound, area):
    client = as_user("lead")
    pid = area["unknown"]["id"]
    assert actions_on(client, pid) == ["room", "return"]
    page = post(client, f"/parcels/{pid}/room", room="8-8-808", follow=True).get_data(
        as_text=True)
    assert "查无此户 8-8-808" in page and row(compound.db, pid)["state"] == "unknown_recipient"
    page = post(client, f"/parcels/{pid}/room", room="1-1-101", follow=True).get_data(
        as_text=True)
    p = row(compound.db, pid)
    assert p["state"] == "holding" and p["slot"] == "A-2-02" and p["code"] in page
    audit = next(compound.db.query("select * from audit where action = 'parcel.room'"))
    assert audit["actor"] == "lead" and audit["target"] == p["waybill"]
    assert json.loads(audit["before"])["state"] == "unknown_recipient"
    assert json.loads(audit["after"]) == {"state": "holding", "slot": "A-2-02",
                                          "household": "1-1-**1"}
    # Only an unknown recipient's room can be set.
    page = post(client, f"/parcels/{area['ready']['id']}/room", room="1-1-102",
                follow=True).get_data(as_text=True)
    assert "只有收件人不明的快递可以改房号" in page
    assert row(compound.db, area["ready"]["id"])["household"] == "1-1-101"


def test_damaged_and_misshelved_parcels_go_back_on_a_shelf(as_user, compound, area):
    client = as_user("office")
    ready = area["ready"]["id"]
    assert actions_on(client, ready) == ["damaged", "misshelved", "return"]
    post(client, f"/parcels/{ready}/damaged", note="外箱压坏")
    assert row(compound.db, ready)["state"] == "damaged"
    assert actions_on(client, ready) == ["reshelve", "return"]
    page = post(client, f"/parcels/{ready}/reshelve", follow=True).get_data(as_text=True)
    assert row(compound.db, ready)["state"] == "shelved" and "已上架 shelved" in page
    wrong = area["wrong"]
    post(client, f"/parcels/{wrong['id']}/reshelve")
    assert row(compound.db, wrong["id"])["state"] == "shelved"
    assert row(compound.db, wrong["id"])["slot"] == wrong["slot"]      # found where it was
    acts = [r["action"] for r in compound.db.query("select action from audit where action "
                                                   "like 'parcel.%' order by id")]
    assert acts == ["parcel.damaged", "parcel.reshelve", "parcel.reshelve"]


def test_actions_the_state_does_not_allow_are_refused_with_the_reason(as_user, compound,
                                                                      area):
    client = as_user("lead")
    gone, holding = area["gone"]["id"], area["holding"]["id"]
    assert actions_on(client, gone) == []
    for action, data, says in (
            ("damaged", {}, "状态为已退回的快递不能改为破损"),
            ("return", {"note": "再退"}, "状态为已退回的快递不能改为已退回"),
            ("misshelved", {}, "(a parcel returned cannot become misshelved)")):
        page = post(client, f"/parcels/{gone}/{action}", follow=True, **data).get_data(
            as_text=True)
        assert says in page, action
    # A parcel standing its hold is not an exception to reshelve.
    page = post(client, f"/parcels/{holding}/reshelve", follow=True).get_data(as_text=True)
    assert "只有破损或放错位置的快递可以重新上架" in page
    assert row(compound.db, holding)["state"] == "holding"
    assert row(compound.db, holding)["slot"] == area["holding"]["slot"]
    # A return needs its reason; with one it is recorded in the history.
    ready = area["ready"]["id"]
    page = post(client, f"/parcels/{ready}/return", note=" ", follow=True).get_data(
        as_text=True)
    assert "请填写退回原因" in page and row(compound.db, ready)["state"] == "shelved"
    post(client, f"/parcels/{ready}/return", note="超期退回")
    assert row(compound.db, ready)["state"] == "returned"
    assert post(client, f"/parcels/{ready}/explode").status_code == 404
    assert compound.db["audit"].count_where("action like 'parcel.%'") == 1


def test_an_observer_cannot_post_and_a_lead_cannot_change_shelves(as_user, compound, area):
    observer = as_user("observer")
    for url in ("/parcels/", "/parcels/runs", "/parcels/audit", "/parcels/setup",
                f"/parcels/{area['ready']['id']}"):
        resp = observer.get(url)
        assert resp.status_code == 200, url
        assert 'method="post"' not in resp.get_data(as_text=True).split("<main>")[1], url
    pid = area["ready"]["id"]
    for url, data in ((f"/parcels/{pid}/damaged", {}), (f"/parcels/{pid}/return",
                                                         {"note": "x"}),
                      ("/parcels/runs/make", {"building": "1"}), ("/parcels/audit/open", {}),
                      ("/parcels/setup/shelf", {"id": "D", "tiers": "1", "slots": "1"}),
                      ("/parcels/setup/shelf/B/remove", {}),
                      ("/parcels/setup/settings", {"hold_minutes": "5"})):
        assert post(observer, url, **data).status_code == 403, url
    lead = as_user("lead")
    assert post(lead, "/parcels/setup/shelf", id="D", tiers="1", slots="2").status_code == 403
    assert post(lead, "/parcels/setup/shelf/B/remove").status_code == 403
    assert post(lead, "/parcels/setup/settings", hold_minutes="5").status_code == 403
    assert 'id="shelf-form"' not in lead.get("/parcels/setup").get_data(as_text=True)
    assert {s["id"] for s in compound.db.query("select id from shelves")} == {"A", "B", "C"}
    assert compound.db["audit"].count_where("action like 'parcel.%'") == 0
    assert row(compound.db, pid)["state"] == "shelved"


def test_a_post_without_the_csrf_token_is_refused(as_user, compound, area):
    client = as_user("admin")
    pid = area["ready"]["id"]
    assert client.post(f"/parcels/{pid}/damaged").status_code == 400
    assert client.post(f"/parcels/{pid}/damaged", data={"csrf": "forged"}).status_code == 400
    assert client.post("/parcels/setup/shelf/B/remove").status_code == 400
    resp = client.post("/parcels/runs/x/scan", data={"scan": "SF1"},
                       headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert row(compound.db, pid)["state"] == "shelved" and compound.db["shelves"].count == 3


# Door runs and the audit sheet ------------------------------------------------------

def test_a_door_run_without_the_script_scan_by_scan(as_user, compound, area):
    compound.set_building("1", BuildingStatus.SEALED, NOW - DAY)
    client = as_user("lead")
    page = client.get("/parcels/runs").get_data(as_text=True)
    assert re.findall(r'<tr data-building="(\w+)"', page) == ["1"]
    page = post(client, "/parcels/runs/make", building="5", follow=True).get_data(
        as_text=True)
    assert "5栋不是封控或管控楼" in page
    resp = post(client, "/parcels/runs/make", building="1")
    run_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert run_id == "2026-11-23-1-2"                   # 12:00: the day's second run
    sheet = client.get(f"/parcels/runs/{run_id}").get_data(as_text=True)
    assert re.findall(r'data-waybill="(\w+)"', sheet) == [area["ready"]["waybill"]]
    # The lead carrying the run sees the door; an observer sees it masked.
    assert "1-1-101" in sheet and 'id="scan"' in sheet and "autofocus" in sheet
    masked = as_user("observer").get(f"/parcels/runs/{run_id}").get_data(as_text=True)
    assert "1-1-**1" in masked and "1-1-101" not in masked

    def scan(text):
        resp = client.post(f"/parcels/runs/{run_id}/scan", data={"scan": text},
                           headers={"Accept": "application/json",
                                    "X-CSRF-Token": client.csrf})
        return resp.status_code, resp.get_json()
    status, answer = scan(area["ready"]["waybill"])
    assert status == 422 and "场所码无效" in answer["message"]   # the venue code comes first
    wrong = compound.issue_venue("b2", VenueKind.BUILDING, NOW - DAY)
    assert "本趟送1栋" in scan(wrong)[1]["message"]
    assert scan(compound.issue_venue("b1", VenueKind.BUILDING, NOW - DAY)) == (
        200, {"ok": True, "kind": "venue",
              "message": "✓ 已到1栋，开始送件 (at building 1: scan each parcel)"})
    assert "不在本趟送货单上" in scan(area["yto"]["waybill"])[1]["message"]
    # Without the page's script: a plain form post, the answer as a flash.
    page = post(client, f"/parcels/runs/{run_id}/scan", scan=area["ready"]["code"],
                follow=True).get_data(as_text=True)
    assert "已送达 delivered (1/1)" in page and row(compound.db, area["ready"]["id"])[
        "state"] == "delivered"
    page = post(client, f"/parcels/runs/{run_id}/close", follow=True).get_data(as_text=True)
    assert "0件放回货架" in page
    assert scan(area["ready"]["waybill"])[0] == 409
    actions = [r["action"] for r in compound.db.query(
        "select action from audit where action like 'parcel.run%' order by id")]
    assert actions == ["parcel.run.make", "parcel.run.venue", "parcel.run.deliver",
                       "parcel.run.close"]


def test_the_audit_sheet_walk_marks_what_was_not_found(as_user, compound, area):
    client = as_user("lead")
    resp = post(client, "/parcels/audit/open")
    sheet = resp.headers["Location"].rsplit("/", 1)[1]
    assert post(client, "/parcels/audit/open").headers["Location"].endswith(f"/{sheet}")
    page = client.get(f"/parcels/audit/{sheet}").get_data(as_text=True)
    slots = re.findall(r'<tr id="slot-[^"]+" data-slot="([^"]+)"', page)
    assert slots == ["A-1-01", "A-1-02", "A-1-03", "B-1-01", "C-1-01", "C-1-02"]
    post(client, f"/parcels/audit/{sheet}/record", slot="A-1-01", found=area["old"]["waybill"])
    post(client, f"/parcels/audit/{sheet}/record", slot="A-1-02", empty="1")
    post(client, f"/parcels/audit/{sheet}/record", slot="A-1-03", found=area["yto"]["waybill"])
    post(client, f"/parcels/audit/{sheet}/record", slot="B-2-02", found="JT1234567890123")
    page = post(client, f"/parcels/audit/{sheet}/record", slot="Z-9-99", found="x",
                follow=True).get_data(as_text=True)
    assert "没有这个格位 Z-9-99" in page
    page = client.get(f"/parcels/audit/{sheet}").get_data(as_text=True)
    assert "autofocus" in re.search(r'data-slot="B-1-01".*?</tr>', page, re.S).group(0)
    page = post(client, f"/parcels/audit/{sheet}/close", follow=True).get_data(as_text=True)
    counts = dict(re.findall(r'data-result="(\w+)">[^<]*<b>(\d+)</b>', page))
    assert counts == {"ok": "1", "missing": "1", "other": "1", "extra": "1", "unchecked": "3"}
    moved = page.split('id="audit-misshelved"')[1].split("</table>")[0]
    assert area["ready"]["waybill"] in moved and area["holding"]["waybill"] in moved
    assert row(compound.db, area["ready"]["id"])["state"] == "misshelved"
    page = post(client, f"/parcels/audit/{sheet}/record", slot="B-1-01", empty="1",
                follow=True).get_data(as_text=True)
    assert "盘点单已结束" in page
    assert compound.db["audit"].count_where("action = 'parcel.audit.record'") == 4


# Setup ------------------------------------------------------------------------------

def test_shelves_and_settings_are_validated_and_saved(as_user, compound, area):
    client = as_user("office")
    page = client.get("/parcels/setup").get_data(as_text=True)
    used = dict(re.findall(r'<tr data-shelf="(\w)">.*?class="used">(\d+)<', page, re.S))
    assert used == {"A": "4", "B": "1", "C": "2"}
    for data, says in (({"id": "a1b2c", "tiers": "2", "slots": "2"}, "货架编号为大写字母开头"),
                       ({"id": "D", "tiers": "0", "slots": "2"}, "层数 1-20"),
                       ({"id": "D", "tiers": "two", "slots": "2"}, "要填整数"),
                       ({"id": "A", "tiers": "1", "slots": "2", "buildings": "1,2"},
                        "这些格子里还有快递")):
        resp = post(client, "/parcels/setup/shelf", **data)
        assert resp.status_code == 422 and says in resp.get_data(as_text=True), data
        assert f'value="{data["tiers"]}"' in resp.get_data(as_text=True)  # kept for fixing
    assert compound.db["slots"].count == 12
    post(client, "/parcels/setup/shelf", id="d", name="6栋", tiers="3", slots="4", cold="1",
         buildings="6, 7")
    d = next(compound.db.query("select * from shelves where id = 'D'"))
    assert (d["tiers"], d["slots"], d["cold"], json.loads(d["buildings"])) == (3, 4, 1,
                                                                               ["6", "7"])
    page = post(client, "/parcels/setup/shelf/A/remove", follow=True).get_data(as_text=True)
    assert "货架A上还有快递" in page
    post(client, "/parcels/setup/shelf/D/remove")
    assert not compound.db["shelves"].count_where("id = 'D'")
    resp = post(client, "/parcels/setup/settings", hold_minutes="-5", fresh_hold_minutes="x",
                overdue_days="3", run_times="10:00, 25:00", code_start="1001")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    errors = page.split('id="setup-errors"')[1].split("</ul>")[0]
    assert "静置时间（分钟）hold minutes" in errors and "生鲜静置时间" in errors
    assert "run times are HH:MM" in errors and 'value="10:00, 25:00"' in page  # kept
    post(client, "/parcels/setup/settings", hold_minutes="45", fresh_hold_minutes="10",
         overdue_days="5", run_times="09:00，14:00 18:30", code_start="2001")
    saved = settings.load(compound.db)
    assert saved.hold_minutes == 45 and saved.run_times == ("09:00", "14:00", "18:30")
    actions = [r["action"] for r in compound.db.query(
        "select action from audit where action like 'parcel.%' order by id")]
    assert actions == ["parcel.shelf", "parcel.shelf.remove", "parcel.settings"]


# In a real browser ------------------------------------------------------------------

@pytest.fixture
def server(web_config):
    srv = ThreadedServer(create_app(dataclasses.replace(web_config)))
    yield f"http://localhost:{srv.port}"
    srv.close()


def test_a_door_run_in_the_browser_scanner_gun_types_venue_code_then_waybills(
        server, browser, compound):
    db = compound.db
    compound.set_building("1", BuildingStatus.SEALED, NOW - DAY)
    define_shelf(db, Shelf("A", "1栋", 2, 4, False, ("1",)))
    first = drop(db, "1-1-101", NOW - 3 * 60 * MIN)
    second = drop(db, "1-2-202", NOW - 3 * 60 * MIN, fresh=True)
    third = drop(db, "1-3-303", NOW - 3 * 60 * MIN)
    tick(db, NOW)
    venue = compound.issue_venue("b1", VenueKind.BUILDING, NOW - DAY)
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(5000)
    try:
        page.goto(server + "/parcels/runs")
        page.fill("input[name=username]", "lead")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.click('#due tr[data-building="1"] button')
        lines = page.locator("#run-lines tbody tr")
        expect(lines).to_have_count(3)
        assert lines.first.get_attribute("data-waybill") == second["waybill"]  # fresh first
        scan = page.locator("#scan")
        expect(scan).to_be_focused()                    # the gun types straight in
        for text in (venue, first["waybill"], third["code"]):
            page.keyboard.type(text)
            page.keyboard.press("Enter")
        expect(page.locator("#scan-log li.ok")).to_have_count(3)
        expect(page.locator("#venue-state")).to_contain_text("已到1栋")
        for p in (first, third):
            expect(page.locator(f'#run-lines tr[data-parcel="{p["id"]}"] .tick')).to_have_text(
                "✓")
        expect(page.locator(f'#run-lines tr[data-parcel="{second["id"]}"] .tick')).to_have_text(
            "☐")
        expect(page.locator("#delivered")).to_have_text("2")
        page.keyboard.type(first["waybill"])            # scanned twice: said in red
        page.keyboard.press("Enter")
        expect(page.locator("#scan-result.bad")).to_contain_text("不在本趟送货单上")
        page.once("dialog", lambda d: d.accept())
        page.click("#close-run button")
        expect(page.locator(".flash.ok")).to_contain_text("1件放回货架")
        assert [row(db, p["id"])["state"] for p in (first, second, third)] == [
            "delivered", "shelved", "delivered"]
    finally:
        context.close()
