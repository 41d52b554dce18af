"""The daily report on paper: Chromium's print of a filled day (A4), served by waitress."""
from __future__ import annotations

import re

import pytest

from tests.test_hub_web_app import PASSWORD, web_config  # noqa: F401  (fixtures)
from tests.test_hub_web_browser import server  # noqa: F401  (fixture)
from tests.test_report import day  # noqa: F401  (a filled day, through the real ingest)

A4_PX = 718      # 210 mm less the 10 mm margins, at 96 px per inch


@pytest.fixture
def paper(browser):
    context = browser.new_context(viewport={"width": A4_PX, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


def test_the_report_prints_on_a4_without_the_menu_or_the_form(server, day, paper):  # noqa: F811
    paper.goto(server + "/login")
    paper.fill("input[name=username]", "observer")
    paper.fill("input[name=password]", PASSWORD)
    paper.click("button.primary")
    paper.goto(server + "/report/?day=2026-11-23")
    paper.emulate_media(media="print")
    for hidden in ("header.top", "#report-day"):
        assert not paper.locator(hidden).is_visible(), hidden
    assert paper.locator("#report-totals").is_visible()
    assert paper.evaluate("document.documentElement.scrollWidth") <= A4_PX
    for table in paper.locator("main table").all():   # nothing cut at the paper's edge
        box = table.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= A4_PX
        assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1"), table.get_attribute("id")
    pdf = paper.pdf(format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 1 <= pages <= 3, pages
