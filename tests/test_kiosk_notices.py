"""The screen's standing notices in a browser: simulated pins in red on the gate's page,
and the waiting page (no gate yet) that turns into the gate's page by itself."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from flask import Flask, jsonify

from demo.scenes import phone_frame
from gatehouse.webserver import ThreadedServer
from kiosk.notices import MOCK_PINS, WAITING_FOR_BUNDLE, Notices, camera_missing
from kiosk.web.front import Front


def test_mock_pins_show_a_permanent_red_band(home, compound, kiosk_screen, page):
    compound.publish(int(time.time()))
    k = kiosk_screen(home, [phone_frame(None)] * 15)
    page.goto(k.url)
    band = page.wait_for_selector("#notices .notice.alarm[data-key='pins']", timeout=10000)
    text = band.inner_text()
    assert text.index("模拟引脚：门不会打开") < text.index("SIMULATED PINS")  # Chinese first
    color = band.evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(192, 18, 27)"


def test_the_waiting_page_shows_the_notices_and_gives_way_to_the_gate(page):
    notices = Notices()
    notices.set(MOCK_PINS)
    notices.set(WAITING_FOR_BUNDLE)
    notices.set(camera_missing("OSError: cannot open camera '/dev/video0'"))
    front = Front(notices, "gate-1")
    server = ThreadedServer(front)
    url = f"http://127.0.0.1:{server.port}/"
    try:
        page.goto(url)
        page.wait_for_selector("#notices .notice[data-key='bundle']", timeout=10000)
        keys = page.eval_on_selector_all("#notices .notice", "els => els.map(e => e.dataset.key)")
        assert keys == ["pins", "bundle", "camera"]  # the alarm first
        assert "门岗正在启动" in page.inner_text("main")

        gate_page = Flask("gate")
        gate_page.add_url_rule("/", "page", lambda: "<body data-mode='ready'>the gate's page")
        gate_page.add_url_rule("/api/state", "state", lambda: jsonify({"mode": "ready"}))
        notices.clear("bundle")
        front.attach(gate_page)
        page.wait_for_function("document.body.innerText.includes(\"the gate's page\")",
                               timeout=10000)
        with urllib.request.urlopen(url + "api/notices", timeout=5) as r:
            doc = json.loads(r.read())
        assert doc["phase"] == "running" and [n["key"] for n in doc["notices"]] == [
            "pins", "camera"]
    finally:
        page.goto("about:blank")  # no poll in flight as the server closes
        server.close()


def test_the_waiting_screen_answers_only_to_its_own_names_and_takes_no_action():
    """Every route of the waiting screen (/, /api/state, /api/notices), tried as an outsider:
    a rebound Host gets 421; a foreign Origin posting to it changes nothing (no POST route)."""
    front = Front(Notices(), "gate-1")
    server = ThreadedServer(front)
    base = f"http://127.0.0.1:{server.port}"

    def status(path: str, method: str = "GET", **headers) -> int:
        req = urllib.request.Request(base + path, method=method, headers=headers,
                                     data=b"{}" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
    try:
        for path in ("/", "/api/state", "/api/notices"):
            assert status(path, Host="evil.example") == 421, path
            assert status(path, Host=f"evil.example:{server.port}") == 421, path
            assert status(path) in (200, 503), path         # its own name: answered
        for path in ("/api/signin", "/api/manual", "/"):
            assert status(path, "POST", Host="evil.example", Origin="http://evil.example") == 421
            assert status(path, "POST", Origin="http://evil.example") in (404, 405), path
    finally:
        server.close()
