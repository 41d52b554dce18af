"""The alerts the office sees on its screens carry the person masked, as every message
that leaves the hub does: the alerts page, the overview and its live stream."""
from __future__ import annotations

from tests.test_hub_web_app import NOW, app, as_user, attempt, send, web_config  # noqa: F401


def test_an_attempts_alert_shows_the_household_masked(as_user, compound):
    send(compound, "north", [attempt(NOW - 60, outcome="refuse", name="张三丰",
                                     household="7-2-302", reasons=["HEALTH_RED"], alert=True)])
    client = as_user("observer")
    for page in (client.get("/alerts").get_data(as_text=True),
                 client.get("/").get_data(as_text=True),
                 client.get("/api/overview").get_data(as_text=True)):
        assert "红码" in page or "HEALTH_RED" in page
        assert "7-2-302" not in page and "张三丰" not in page
    assert "7-2-**2" in client.get("/alerts").get_data(as_text=True)


def test_an_admin_sets_a_route_in_the_browser(browser, web_config, compound):  # noqa: F811
    import dataclasses

    from gatehouse.webserver import ThreadedServer
    from hub.web import create_app
    from tests.test_hub_web_browser import sign_in
    srv = ThreadedServer(create_app(dataclasses.replace(web_config)))
    base = f"http://localhost:{srv.port}"
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(10000)
    try:
        sign_in(page, base, "admin")   # routes are an admin's (docs/admin.md)
        page.goto(base + "/alerts")
        page.click("#alert-delivery-link")
        form = page.locator("#route-form")
        form.locator("input[name=name]").fill("office-wecom")
        form.locator("select[name=channel]").select_option("wecom")
        form.locator("input[name=url]").fill(
            "https://qyapi.example/cgi-bin/webhook/send?key=secret-robot-key")
        form.locator("input[name=quiet]").fill("22:00-07:00")
        form.locator("input[value=HEALTH_RED]").check()
        form.locator("input[value=door_forced]").check()
        form.locator("button").click()
        row = page.locator('#alert-routes tr[data-route="office-wecom"]')
        assert "红码" in row.inner_text() and "22:00-07:00" in row.inner_text()
        assert "secret-robot-key" not in page.content()
        row.locator("text=发测试消息").click()
        assert "测试消息" in page.locator("#alert-messages").inner_text()
        assert page.locator('#alert-messages tr[data-state="pending"]').count() == 1
    finally:
        ctx.close()
        srv.close()
