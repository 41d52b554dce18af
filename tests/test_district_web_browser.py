"""The district's page in a real browser (Debian's Chromium) at a phone's size: the health
authority signs in, reads the overview, traces a person across two compounds and finds
the contact at the other compound, masked, with no unmask button for its role."""
from __future__ import annotations

import os
from dataclasses import replace

import pytest

from district.web import create_app
from gatehouse.webserver import ThreadedServer
from tests.test_district_tracing import REF_A, REF_B, db, street  # noqa: F401
from tests.test_district_web import PASSWORD, app, web_config  # noqa: F401

pytest_plugins = ["tests.district_fixtures"]


@pytest.fixture
def server(web_config):  # noqa: F811
    srv = ThreadedServer(create_app(replace(web_config, cookie_secure=False)), threads=4,
                         name="district-web")
    yield f"http://127.0.0.1:{srv.port}"
    srv.close()


def test_the_health_authority_traces_on_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(server + "/")
        page.fill("input[name=username]", "observer")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_selector("#compounds")
        assert page.locator("#compounds tr[data-compound]").count() == 2
        # The menu folds away on a phone; the box opens it.
        assert not page.is_visible("#menu")
        page.click("label.menu-toggle")
        page.click("#menu >> text=流调")
        page.fill("input[name=who]", REF_A)
        page.click("#trace-form button")
        page.wait_for_selector("#contacts")
        people = page.locator("#contacts [data-test=person]").all_inner_texts()
        assert REF_B[:6] + "…" in people and REF_B not in page.content()
        assert page.locator("#unmask").count() == 0
        assert "c2" in page.locator("#timeline").inner_text()
        if os.environ.get("GATEHOUSE_SHOTS"):     # for the eyes: the page as a phone shows it
            page.screenshot(path=f"{os.environ['GATEHOUSE_SHOTS']}/district-tracing-390.png",
                            full_page=True)
            page.goto(server + "/")
            page.screenshot(path=f"{os.environ['GATEHOUSE_SHOTS']}/district-overview-390.png",
                            full_page=True)
    finally:
        context.close()
