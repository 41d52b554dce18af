"""The admin page in headless Chromium, served by waitress as in production."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from playwright.sync_api import expect

from gatehouse import topics
from gatehouse.policy import BuildingStatus
from gatehouse.webserver import ThreadedServer
from hub.web import create_app
from kiosk.bundles import load_bundle
from tests.conftest import ALICE_ID, BOB_ID, T0
from tests.test_hub_web_app import (  # noqa: F401  (fixtures)
    GOOD_CSV,
    PASSWORD,
    attempt,
    ref_of,
    send,
    web_config,
)


@pytest.fixture
def server(web_config):  # noqa: F811 (the imported fixture)
    config = dataclasses.replace(web_config, sse_seconds=30, sse_poll_s=0.2)
    srv = ThreadedServer(create_app(config))
    yield f"http://localhost:{srv.port}"
    srv.close()


@pytest.fixture
def desk(browser):
    """A desktop-sized page for the office."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


def sign_in(page, base, name="admin"):
    page.goto(base + "/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_selector("[data-test=whoami]")


def test_a_gate_goes_offline_on_the_live_overview_when_its_kiosk_stops(server, desk, compound):
    send(compound, "north", beat={"outbox": 0})
    sign_in(desk, server, "observer")
    row = desk.locator('tr[data-gate="north"]')
    assert "在线" in row.locator(".state").inner_text()
    desk.wait_for_selector("#t-conn.ok")            # the event stream is connected
    send(compound, "north", status=topics.OFFLINE)   # the kiosk's last will
    expect(row.locator(".state")).to_contain_text("离线")    # no reload: the stream
    expect(desk.locator("#alerts")).to_contain_text("门岗离线")


def test_sealing_a_building_in_the_browser_reaches_the_gate_bundle(server, desk, compound):
    sign_in(desk, server, "office")
    desk.goto(server + "/buildings/")
    desk.fill("#set-building input[name=building]", "7")
    desk.select_option("#set-building select[name=status]", "sealed")
    desk.once("dialog", lambda d: d.accept())
    desk.click("#set-building button")
    desk.wait_for_selector(".flash.ok")
    assert "封控" in desk.locator('tr[data-building="7"]').inner_text()
    assert load_bundle(compound.home).buildings["7"] is BuildingStatus.SEALED


def test_importing_a_csv_with_one_bad_row_shows_the_error_and_imports_nothing(
        server, desk, compound, tmp_path):
    bad = tmp_path / "residents.csv"
    bad.write_text(GOOD_CSV + "7,2,303,,13700001111,110101198001010029\n", encoding="utf-8")
    sign_in(desk, server, "office")
    desk.goto(server + "/residents/import")
    desk.set_input_files("input[type=file]", str(bad))
    desk.click("#upload button")
    errors = desk.locator("#import-errors")
    assert "未导入任何数据" in errors.inner_text()
    assert "第4行 line 4, name" in errors.inner_text()
    assert compound.db["residents"].count == 0


def test_a_tracing_query_and_its_csv_download(server, desk, compound):
    alice, bob = ref_of(compound, ALICE_ID), ref_of(compound, BOB_ID)
    compound.db["residents"].insert({"building": "7", "unit": "2", "room": "301",
                                     "household": "7-2-301", "name": "张三丰",
                                     "person_ref": alice})
    send(compound, "north", [attempt(T0, "out", ref=alice),
                             attempt(T0 + 240, "in", ref=bob, household="7-2-302",
                                     name="李*")])
    sign_in(desk, server, "observer")
    desk.goto(server + "/tracing")
    desk.select_option("select[name=kind]", "contacts")
    desk.fill("input[name=q]", "301")
    desk.fill("input[name=minutes]", "10")
    desk.click("#trace-form button")
    results = desk.locator("#trace-results tbody")
    assert "7-2-302" in results.inner_text() and "李*" in results.inner_text()
    with desk.expect_download() as info:
        desk.click("#csv")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("at,gate,direction")
    assert "7-2-302" in text and "张三丰" not in text


def test_an_observer_has_no_buttons_that_change_anything(server, desk):
    sign_in(desk, server, "observer")
    for path in ("/buildings/", "/residents/", "/visitors/", "/policy/", "/alerts"):
        desk.goto(server + path)
        forms = desk.locator("main form[method=post]").count()
        assert forms == 0, path
