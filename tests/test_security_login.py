"""Signing in to the admin page under attack (docs/security.md, H7 and after)."""
from __future__ import annotations

import http.client
import re
import time
from urllib.parse import urlencode

import pytest

from gatehouse.web_serve import proxy_options
from gatehouse.webserver import ThreadedServer
from hub import logins, schema, users
from hub.web import WebConfig, create_app
from tests.conftest import T0

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def office(compound):
    users.add_user(compound.db, "admin", PASSWORD, "admin", T0)
    clock = Clock()
    app = create_app(WebConfig(home=compound.home, clock=clock, secret_key=b"k" * 32))
    return app, clock


def sign_in(client, name: str, password: str, ip: str):
    page = client.get("/login", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf": csrf},
                       environ_base={"REMOTE_ADDR": ip})


def test_someone_guessing_the_admins_name_cannot_keep_the_admin_out(office):
    """A guesser on four addresses, trying the moment each wait ended, kept the real admin
    (right password, every 3 s) refused 49 times out of 49."""
    app, clock = office
    desk = app.test_client()
    assert sign_in(desk, "admin", PASSWORD, "10.0.0.7").status_code == 302  # signed in before
    desk.post("/logout", data={"csrf": re.search(r'name="csrf-token" content="([^"]+)"',
                                                 desk.get("/").get_data(as_text=True))[1]})
    guesser = app.test_client()
    for n in range(30):
        resp = sign_in(guesser, "admin", f"guess {n}", f"203.0.113.{n % 4}")
        assert resp.status_code in (401, 429)
        clock.now += 3
        # The admin at their usual browser: never slowed by somebody else's guessing.
        if n % 10 == 9:
            assert sign_in(desk, "admin", PASSWORD, "10.0.0.7").status_code == 302
            desk.post("/logout", data={"csrf": re.search(
                r'name="csrf-token" content="([^"]+)"', desk.get("/").get_data(as_text=True))[1]})
    # A browser never used for this name is slowed meanwhile (at most a minute), not locked.
    db = schema.open_db(app.config["GATEHOUSE"].home.hub_db)
    assert logins.throttled(db, "admin", "10.0.0.8", clock.now) <= logins.MAX_DELAY_S + 1


def test_a_browsers_own_wrong_passwords_lock_only_that_browser(office):
    app, clock = office
    desk = app.test_client()
    assert sign_in(desk, "admin", PASSWORD, "10.0.0.7").status_code == 302
    for n in range(logins.MAX_FAILURES):
        assert sign_in(desk, "admin", "typo", "10.0.0.7").status_code == 401
    assert sign_in(desk, "admin", PASSWORD, "10.0.0.7").status_code == 429
    other = app.test_client()
    clock.now += 2
    assert sign_in(other, "admin", PASSWORD, "10.0.0.9").status_code == 302


def _post_login(port: int, headers: dict, name: str, password: str) -> int:
    """A sign-in through a (pretend) reverse proxy: one connection, its own headers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/login", headers=headers)
        resp = conn.getresponse()
        page = resp.read().decode()
        if resp.status != 200:
            return resp.status
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        cookie = resp.getheader("Set-Cookie", "").split(";")[0]
        body = urlencode({"username": name, "password": password, "csrf": csrf})
        conn.request("POST", "/login", body, {
            **headers, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


@pytest.mark.parametrize("trusted", [True, False])
def test_behind_a_reverse_proxy_the_browsers_address_and_name_are_what_count(compound,
                                                                            trusted):
    """Behind a proxy every login came from 127.0.0.1: five guesses locked the admin out,
    and the Host list saw only the proxy's own 127.0.0.1."""
    users.add_user(compound.db, "admin", PASSWORD, "admin", T0)
    app = create_app(WebConfig(home=compound.home, secret_key=b"k" * 32,
                               cookie_secure=False, hosts="office.example"))
    server = ThreadedServer(app, **proxy_options("127.0.0.1" if trusted else None))
    try:
        guesser = {"Host": "127.0.0.1", "X-Forwarded-For": "198.51.100.1",
                   "X-Forwarded-Host": "office.example"}
        for n in range(logins.MAX_FAILURES):
            assert _post_login(server.port, guesser, "admin", f"guess {n}") == 401
        time.sleep(1.2)   # the name's slow-down after five failures: one second
        admin = {**guesser, "X-Forwarded-For": "198.51.100.2"}
        assert _post_login(server.port, admin, "admin", PASSWORD) == (302 if trusted else 429)
        rebound = {**guesser, "X-Forwarded-Host": "evil.example"}
        assert _post_login(server.port, rebound, "admin", PASSWORD) == (421 if trusted else 429)
    finally:
        server.close()
