"""The admin page on a phone (390 px, touch) in Debian's Chromium, served by waitress:
no page scrolls sideways, the menu starts collapsed and opens on a tap, wide tables
scroll inside themselves, and forms can be filled and sent."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hub.parcels import intake, runs
from hub.parcels.shelving import Shelf, define_shelf
from hub.parcels.states import ParcelState, move
from hub.web import create_app
from tests.conftest import ALICE_ID, T0
from tests.test_hub_web_app import (  # noqa: F401  (fixtures)
    NOW,
    PASSWORD,
    attempt,
    csrf_of,
    import_good,
    login,
    post,
    ref_of,
    send,
    web_config,
)
from tests.test_hub_web_browser import server  # noqa: F401  (fixture)
from tests.test_xlsx import ZERO_ROOMS, workbook

PHONE = {"width": 390, "height": 844}
NOT_PAGES = {"overview.api", "overview.events", "auth.login"}   # JSON, a stream, the door
ASKS = {"/passes/print": "/passes/print?building=7"}            # pages that need a question


def pages(app) -> list[str]:
    """Every page of the admin app a link can open: each GET route without parameters
    that is not a download, the API or the event stream (a new page is tested too)."""
    return sorted(ASKS.get(r.rule, r.rule) for r in app.url_map.iter_rules()
                  if "GET" in r.methods and not r.arguments and r.endpoint not in NOT_PAGES
                  and not r.rule.endswith((".csv", ".xlsx", ".svg")))


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


@pytest.fixture
def busy(compound, web_config):  # noqa: F811
    """A compound with people, passages, an alert and shelves: tables with rows in them."""
    client = create_app(web_config).test_client()
    login(client, "admin")
    client.csrf = csrf_of(client.get("/").get_data(as_text=True))
    import_good(client)
    alice = ref_of(compound, ALICE_ID)
    send(compound, "north", [attempt(T0 + 60 * i, "in" if i % 2 else "out", ref=alice)
                             for i in range(6)]
         + [attempt(T0 + 900, "in", "refuse", reasons=["HEALTH_RED"], alert=True)],
         beat={"outbox": 3})
    define_shelf(compound.db, Shelf("A", "公共货架", 3, 12, False, ()))
    return compound


def sign_in(page, base: str, name: str = "admin") -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_selector("[data-test=whoami]", state="attached")


def widths(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")


def test_no_page_scrolls_sideways_at_390_px(server, busy, phone, web_config):  # noqa: F811
    sign_in(phone, server)
    wide, every = {}, pages(create_app(web_config))
    assert {"/", "/residents/", "/report/", "/residents/import", "/users"} <= set(every)
    for path in every:
        resp = phone.goto(server + path)
        assert resp.status == 200, path
        w = max(widths(phone))
        if w > PHONE["width"]:
            wide[path] = w
    assert wide == {}, sorted(wide.items())


def test_the_menu_starts_collapsed_and_opens_on_a_tap(server, busy, phone):  # noqa: F811
    sign_in(phone, server)
    nav = phone.locator("header.top nav")
    expect(nav).to_be_hidden()
    toggle = phone.locator("header.top .menu-toggle")
    expect(toggle).to_be_visible()
    # The first screen is the page, not the menu: the header is one short row.
    assert phone.locator("header.top").bounding_box()["height"] < 120
    toggle.tap()
    expect(nav).to_be_visible()
    links = nav.locator("a")
    assert links.count() >= 14
    for i in range(links.count()):     # each link is a finger's size
        box = links.nth(i).bounding_box()
        assert box["height"] >= 40 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    nav.locator("a", has_text="居民").tap()
    phone.wait_for_url("**/residents/")
    expect(phone.locator("header.top nav")).to_be_hidden()   # a new page: closed again
    toggle = phone.locator("header.top .menu-toggle")
    toggle.tap()
    expect(phone.locator("header.top nav")).to_be_visible()
    toggle.tap()
    expect(phone.locator("header.top nav")).to_be_hidden()


def test_wide_tables_scroll_inside_themselves(server, busy, phone):  # noqa: F811
    sign_in(phone, server)
    phone.goto(server + "/")
    table = phone.locator("#gates")
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    inner = table.evaluate("t => [t.scrollWidth, t.clientWidth]")
    assert inner[0] > inner[1]                   # its own scroll bar, not the page's
    table.evaluate("t => { t.scrollLeft = t.scrollWidth; }")
    assert table.evaluate("t => t.scrollLeft") > 0
    assert max(widths(phone)) <= 390


def test_forms_can_be_filled_and_sent_on_a_phone(server, busy, phone):  # noqa: F811
    sign_in(phone, server, "office")
    phone.goto(server + "/residents/")
    field = phone.locator("#search input[name=q]")
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 36
    field.tap()
    field.fill("301")
    phone.locator("#search button.primary").tap()
    phone.wait_for_url("**/residents/?q=301*")
    assert "7-2-301" in phone.locator("#residents").inner_text()
    phone.goto(server + "/visitors/")
    for el in phone.locator("main form[method=post] input:visible, "
                            "main form[method=post] select:visible, "
                            "main form[method=post] button:visible").all():
        b = el.bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= 390, el.evaluate("e => e.outerHTML")
    assert max(widths(phone)) <= 390


def test_a_workbook_is_imported_from_a_phone(server, compound, web_config, phone,  # noqa: F811
                                             tmp_path):
    book = tmp_path / "居民.xlsx"
    book.write_bytes(workbook(ZERO_ROOMS))
    sign_in(phone, server, "office")
    phone.goto(server + "/residents/import")
    phone.set_input_files("#upload input[type=file]", str(book))
    phone.locator("#upload button.primary").tap()
    preview = phone.locator("#import-preview")
    expect(preview).to_contain_text("7-2-0301")
    assert max(widths(phone)) <= 390
    preview.locator("button.primary").tap()
    expect(phone.locator(".flash.ok")).to_contain_text("新增2人")
    assert "7-2-0301" in phone.locator("#residents").inner_text()
    assert compound.db["residents"].count == 2


@pytest.fixture
def deep(busy, web_config):  # noqa: F811
    """Pages behind a parameter: a parcel, a run sheet, a group-buy batch, a timeline."""
    db = busy.db
    client = create_app(web_config).test_client()
    login(client, "admin")
    client.csrf = csrf_of(client.get("/").get_data(as_text=True))
    post(client, "/buildings/set", building="7", status="sealed", confirmed="yes")
    shelved = [intake.create_item(db, waybill=f"SF10000000000{i}", household=hh, at=NOW,
                                  actor="office", place="parcel-area")
               for i, hh in enumerate(("7-2-301", "7-2-302"))]
    for pid in shelved:
        move(db, pid, ParcelState.SHELVED, NOW + 1800, "hold-timer")
    run = runs.make_sheet(db, "7", NOW + 1900, "office")   # after the seal, at NOW
    holding = intake.create_item(db, waybill="YT1234567890123", household="7-2-301",
                                 at=NOW + 2000, actor="office", place="parcel-area")
    chain = "#接龙\n12月3日 蔬菜包团购\n1. 7-2-301 张三丰 蔬菜包×2 13812341234\n2. 7-2-302 李四 +1\n"
    resp = post(client, "/groupbuy/import", text=chain, leader="小周", confirmed="yes")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return [f"/parcels/{holding}", f"/parcels/runs/{run}", resp.headers["Location"],
            f"/tracing?kind=timeline&ref={ref_of(busy, ALICE_ID)}",
            f"/tracing?kind=contacts&ref={ref_of(busy, ALICE_ID)}&minutes=30"]


def test_pages_behind_a_parameter_fit_a_phone_too(server, deep, phone):  # noqa: F811
    sign_in(phone, server)
    wide = {}
    for path in deep:
        resp = phone.goto(server + path if path.startswith("/") else path)
        assert resp.status == 200, path
        if max(widths(phone)) > PHONE["width"]:
            wide[path] = max(widths(phone))
    assert wide == {}, sorted(wide.items())
