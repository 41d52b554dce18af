"""A page that never hangs: 50 open live overviews under waitress with hub web's 16
threads, and the other pages, the API the polling tabs use and /healthz still answer;
in Chromium a tab past the limit of live streams falls back to polling and stays live."""
from __future__ import annotations

import dataclasses
import http.client
import http.cookiejar
import re
import statistics
import threading
import time
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from gatehouse import topics
from gatehouse.webserver import ThreadedServer
from hub.web import create_app, overview
from tests.test_hub_web_app import PASSWORD, send, web_config  # noqa: F401
from tests.test_hub_web_browser import desk, sign_in  # noqa: F401

TABS = 50
PATIENCE_S = 5.0     # a request unanswered this long counts as hung (the issue saw 8 s)


class Browserless:
    """A signed-in HTTP client of the admin page: its session cookie for raw sockets."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.opener.open(base + "/login", timeout=10).read().decode()
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"username": "observer", "password": PASSWORD,
                                       "csrf": csrf}).encode()
        self.opener.open(base + "/login", data, timeout=10).read()
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        assert "gatehouse_session" in self.cookie

    def get(self, path: str) -> tuple[int, float]:
        """(status, seconds) of one GET, with PATIENCE_S as the limit."""
        t0 = time.monotonic()
        with self.opener.open(self.base + path, timeout=PATIENCE_S) as r:
            r.read()
            return r.status, time.monotonic() - t0

    def open_stream(self) -> tuple[http.client.HTTPResponse, int]:
        """Open /events as EventSource does; the response stays open (it, status)."""
        host, port = self.base.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=PATIENCE_S)
        conn.request("GET", "/events", headers={"Accept": "text/event-stream",
                                                "Cookie": self.cookie})
        resp = conn.getresponse()
        if resp.status == 200:
            assert resp.readline() == b"retry: 2000\n"   # streaming: the thread is held
        return resp, resp.status


@pytest.fixture
def hub_web(web_config):  # noqa: F811
    """The admin page under waitress with `hub web`'s 16 threads."""
    config = dataclasses.replace(web_config, sse_seconds=300, sse_poll_s=1.0,
                                 cookie_secure=False, clock=time.time)
    srv = ThreadedServer(create_app(config), threads=16)
    yield f"http://127.0.0.1:{srv.port}"
    srv.close()


def test_fifty_open_overviews_leave_the_other_pages_answering(hub_web, compound):
    send(compound, "north", beat={"outbox": 3})
    client = Browserless(hub_web)
    streams = [client.open_stream() for _ in range(TABS)]
    live = [c for c, status in streams if status == 200]
    polled = [c for c, status in streams if status == 204]
    assert len(live) == overview.MAX_STREAMS and len(polled) == TABS - overview.MAX_STREAMS
    stop = threading.Event()
    poll_times: list[float] = []

    def polling_tab():     # what a tab past the limit does: the overview every 5 s
        while not stop.is_set():
            status, took = client.get("/api/overview")
            assert status == 200
            poll_times.append(took)
            stop.wait(overview.POLL_S)

    pollers = [threading.Thread(target=polling_tab, daemon=True) for _ in polled]
    for t in pollers:
        t.start()
    try:
        page_times: dict[str, list[float]] = {}
        for _ in range(3):     # over two rounds of the polling tabs
            for path in ("/residents/", "/", "/alerts", "/notifications/", "/healthz",
                         "/login"):
                status, took = client.get(path)     # raises on a hang (PATIENCE_S)
                assert status == 200, path
                page_times.setdefault(path, []).append(took)
            stop.wait(overview.POLL_S / 2)
        # The live streams still stream while all this goes on.
        for resp in live:
            line = resp.readline()
            while line == b"\n":
                line = resp.readline()
            assert line.startswith((b"data: ", b": keep-alive"))
    finally:
        stop.set()
        for t in pollers:
            t.join(PATIENCE_S + 1)
        for conn, _ in streams:
            conn.close()
    every = [t for ts in page_times.values() for t in ts]
    print(f"\n{TABS} tabs: {len(live)} streaming, {len(polled)} polling; pages: median "
          f"{statistics.median(every) * 1000:.0f} ms, max {max(every) * 1000:.0f} ms; "
          f"polls ({len(poll_times)}): median {statistics.median(poll_times) * 1000:.0f} ms, "
          f"max {max(poll_times) * 1000:.0f} ms")
    for path, ts in page_times.items():
        print(f"  {path}: {', '.join(f'{t * 1000:.0f}' for t in ts)} ms")


def test_a_closed_tab_gives_its_stream_back(hub_web, compound):
    client = Browserless(hub_web)
    first = [client.open_stream() for _ in range(overview.MAX_STREAMS)]
    assert [s for _, s in first] == [200] * overview.MAX_STREAMS
    extra, status = client.open_stream()
    assert status == 204
    extra.close()
    first[0][0].close()      # a tab closed: the server notices at its next keep-alive

    def reopened():
        conn, status = client.open_stream()
        if status != 200:
            conn.close()
            return False
        first.append((conn, status))
        return True
    deadline = time.monotonic() + 10
    while not reopened():
        assert time.monotonic() < deadline, "the closed tab's stream was never given back"
        time.sleep(0.2)
    for conn, _ in first:
        conn.close()


def test_a_tab_past_the_limit_polls_and_stays_live(browser, web_config, compound):  # noqa: F811
    config = dataclasses.replace(web_config, sse_seconds=60, sse_poll_s=0.2)
    app = create_app(config)
    app.config["GATEHOUSE_MAX_STREAMS"] = 1
    srv = ThreadedServer(app)
    base = f"http://localhost:{srv.port}"
    send(compound, "north", beat={"outbox": 0})
    pages = []
    try:
        for _ in range(2):
            ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = ctx.new_page()
            page.set_default_timeout(15000)
            sign_in(page, base, "observer")
            pages.append(page)
        streaming, polling = pages
        expect(streaming.locator("#t-conn")).to_have_attribute("data-mode", "stream",
                                                               timeout=20000)
        expect(polling.locator("#t-conn")).to_have_attribute("data-mode", "poll", timeout=20000)
        expect(polling.locator("#t-conn")).to_have_class(re.compile("ok"), timeout=20000)
        send(compound, "north", status=topics.OFFLINE)         # the kiosk's last will
        for page in pages:        # no reload on either; the polling one asks every 5 s
            expect(page.locator('tr[data-gate="north"] .state')).to_contain_text(
                "离线", timeout=20000)
            expect(page.locator("#alerts")).to_contain_text("门岗离线", timeout=20000)
    finally:
        for page in pages:
            page.context.close()
        srv.close()
