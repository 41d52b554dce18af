"""Every route of the admin page, read from the app's URL map (a route added later is
tried without being listed here), as an outsider would: no login, no CSRF token, a
rebound Host, a role without the right. The page's own names and the login form are the
only doors in."""
from __future__ import annotations

import re

import pytest

from tests.test_hub_web_app import app, as_user, csrf_of, web_config  # noqa: F401

OPEN = {"auth.login", "static"}
SAMPLE = {"alert_id": "1", "nid": "1", "name": "x", "batch": "b1", "pid": "p1",
          "action": "void", "sheet": "1", "run_id": "r1", "shelf_id": "s1", "rid": "1",
          "pass_id": "p1", "vid": "1", "filename": "app.css"}
# What an observer (view, trace, audit) may post: their own session and password.
OBSERVER_MAY = {"auth.logout", "auth.password"}


def routes(app, method: str) -> list[tuple[str, str]]:  # noqa: F811
    out = []
    for rule in app.url_map.iter_rules():
        if method in rule.methods:
            url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE[m.group(1)], rule.rule)
            out.append((rule.endpoint, url))
    return sorted(out)


def test_the_map_is_read(app):  # noqa: F811
    gets, posts = routes(app, "GET"), routes(app, "POST")
    assert ("report.day_xlsx", "/report/day.xlsx") in gets
    assert ("alert_delivery.save_route", "/alerts/delivery/routes") in posts
    assert len(gets) > 30 and len(posts) > 30


def test_a_stranger_gets_the_login_from_every_page(app):  # noqa: F811
    client = app.test_client()
    for endpoint, url in routes(app, "GET"):
        if endpoint in OPEN:
            continue
        resp = client.get(url)
        assert resp.status_code == 401 or (resp.status_code == 302 and "/login" in
                                           resp.headers["Location"]), (url, resp.status_code)


def test_a_stranger_with_the_login_forms_token_changes_nothing(app, compound):  # noqa: F811
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    before = compound.db["audit"].count
    for endpoint, url in routes(app, "POST"):
        if endpoint in OPEN:
            continue
        assert client.post(url, data={"csrf": token}).status_code in (302, 401), url
    assert client.post("/alerts/delivery/routes", data={"csrf": "forged"}).status_code == 400
    assert compound.db["audit"].count == before


def test_every_post_needs_the_token(as_user, app):  # noqa: F811
    admin = as_user("admin")
    for endpoint, url in routes(app, "POST"):
        assert admin.post(url, data={}).status_code == 400, url


def test_a_rebound_name_gets_421_on_every_route(app):  # noqa: F811
    client = app.test_client()
    for method in ("GET", "POST"):
        for _, url in routes(app, method):
            resp = client.open(url, method=method, headers={"Host": "evil.example"})
            assert resp.status_code == 421, (method, url)


def test_an_observer_changes_nothing_anywhere(as_user, app, compound):  # noqa: F811
    observer = as_user("observer")
    before = compound.db["audit"].count
    for endpoint, url in routes(app, "POST"):
        if endpoint in OPEN | OBSERVER_MAY:
            continue
        resp = observer.post(url, data={"csrf": observer.csrf})
        assert resp.status_code == 403, (url, resp.status_code)
    assert compound.db["audit"].count == before


@pytest.mark.parametrize("url", ["/report/day.xlsx", "/audit.xlsx", "/residents/export.xlsx",
                                 "/tracing/export.xlsx"])
def test_the_new_downloads_are_not_kept_by_the_browser(as_user, url):
    resp = as_user("admin").get(url)
    assert resp.status_code in (200, 400) and resp.headers.get("Cache-Control") == "no-store"
