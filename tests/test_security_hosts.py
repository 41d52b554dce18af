"""Every HTTP server answers only to its own host names (docs/security.md, attack H1).

The attack that worked once: a page from a name rebound to 127.0.0.1 read the volunteer
screen with `Host: evil.example:P`, took its CSRF token, signed a volunteer in and
admitted a resident by ID number: the relay pulsed.
"""
from __future__ import annotations

import http.client
import json
import re
import time
from urllib.parse import urlsplit

import pytest

from gatehouse.hosts import HostAllowlist, host_name
from hub.web import WebConfig, create_app
from tests.conftest import ALICE_ID
from tests.gpio_fixtures import low_pulses
from tests.test_kiosk_screen import BLANK, RELAY


def request(url: str, method: str, path: str, host: str, body: dict | None = None,
            headers: dict | None = None) -> tuple[int, str]:
    """One request to a running server with a Host header of our choosing."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host)
        for k, v in {**({"Content-Type": "application/json"} if data else {}),
                     **(headers or {})}.items():
            conn.putheader(k, v)
        if data:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def token_of(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture
def screen(home, compound, kiosk_screen):
    now = int(time.time())
    compound.issue_pass(ALICE_ID, "张三丰", "7", "302", now - 86400)
    vid = compound.add_volunteer("王阿姨", "2468", now)
    k = kiosk_screen(home, [BLANK] * 600)
    return k, vid


def test_a_rebound_name_gets_nothing_from_the_volunteer_screen(screen):
    k, vid = screen
    port = urlsplit(k.url).port
    evil = f"evil.example:{port}"
    origin = {"Origin": f"http://{evil}"}
    # The attack as it ran: the page, the state, then sign-in and a manual admit.
    status, text = request(k.url, "GET", "/", evil)
    assert status == 421 and "csrf-token" not in text
    assert request(k.url, "GET", "/api/state", evil)[0] == 421
    # Even holding a good token (read through the real name), the rebound name is refused.
    status, page = request(k.url, "GET", "/", f"127.0.0.1:{port}")
    assert status == 200
    token = {"X-CSRF-Token": token_of(page), **origin}
    assert request(k.url, "POST", "/api/signin", evil,
                   {"volunteer": vid, "pin": "2468"}, token)[0] == 421
    assert request(k.url, "POST", "/api/manual", evil,
                   {"id_number": ALICE_ID, "attest": True}, token)[0] == 421
    assert k.gate.desk.signed_in is None
    time.sleep(0.5)
    assert low_pulses(k.pins.pin(RELAY).states[1:]) == []


def test_the_screen_still_answers_its_loopback_names_and_refuses_foreign_origins(screen):
    k, vid = screen
    port = urlsplit(k.url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert request(k.url, "GET", "/api/state", host)[0] == 200, host
    status, page = request(k.url, "GET", "/", f"localhost:{port}")
    token = token_of(page)
    # A good name with another site's Origin (or a sandboxed frame's "null") is refused.
    for origin in ("http://evil.example", "null"):
        status, _ = request(k.url, "POST", "/api/signin", f"localhost:{port}",
                            {"volunteer": vid, "pin": "2468"},
                            {"X-CSRF-Token": token, "Origin": origin})
        assert status == 403, origin
    status, _ = request(k.url, "POST", "/api/signin", f"localhost:{port}",
                        {"volunteer": vid, "pin": "2468"},
                        {"X-CSRF-Token": token, "Origin": f"http://localhost:{port}"})
    assert status == 200


@pytest.fixture
def admin_app(compound):
    return create_app(WebConfig(home=compound.home, secret_key=b"k" * 32,
                                hosts="hub.lan, Office.Example."))


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "hub.lan.evil.example",
                                  "localhost.evil.example", "", "[::1]evil"])
def test_the_admin_page_and_enrollment_refuse_other_names(admin_app, host):
    client = admin_app.test_client()
    for path in ("/login", "/enroll/abc", "/static/app.css"):
        resp = client.get(path, headers={"Host": host})
        assert resp.status_code == 421, (host, path)
    resp = client.post("/login", headers={"Host": host}, data={"username": "a"})
    assert resp.status_code == 421


@pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1", "[::1]:8080", "hub.lan",
                                  "office.example:8443", "192.168.1.10:8080", "10.0.0.2"])
def test_the_admin_page_answers_its_names_and_ip_addresses(admin_app, host):
    assert admin_app.test_client().get("/login", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("header,name", [("Hub.LAN:80", "hub.lan"), ("[::1]:8000", "::1"),
                                         ("example.", "example"), ("::1", "::1"),
                                         ("[broken", "")])
def test_host_names_are_read_without_port_case_or_brackets(header, name):
    assert host_name(header) == name


def test_the_allowlist_refuses_a_request_with_no_host():
    calls = []
    app = HostAllowlist(lambda env, start: calls.append(env) or [b""], ["localhost"])
    status = []
    app({}, lambda s, h: status.append(s))
    assert status == ["421 Misdirected Request"] and calls == []
