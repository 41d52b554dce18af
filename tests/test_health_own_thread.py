"""The health probe answers from a thread of its own: with every thread of the admin
page's server held by live streams (the limit lifted to show it), the health server
still says the hub is up."""
from __future__ import annotations

import dataclasses
import time

from gatehouse.webserver import ThreadedServer
from hub.health import HealthApp, HealthServer, token_path
from hub.web import create_app, overview
from tests.test_hub_web_app import web_config  # noqa: F401
from tests.test_live_overview import Browserless
from tests.test_metrics import health


def test_health_answers_while_every_page_thread_is_held(web_config, compound, monkeypatch):  # noqa: F811
    monkeypatch.setattr(overview, "MAX_STREAMS", 1000)     # as before the limit
    config = dataclasses.replace(web_config, sse_seconds=60, sse_poll_s=1.0,
                                 cookie_secure=False, clock=time.time)
    page = ThreadedServer(create_app(config), threads=2)
    probe = HealthServer(HealthApp(compound.home.hub_db, None, token_path(compound.home))).start()
    client = Browserless(f"http://127.0.0.1:{page.port}")
    streams = [client.open_stream() for _ in range(2)]     # both page threads are held
    try:
        assert [status for _, status in streams] == [200, 200]
        status, doc = health(f"http://127.0.0.1:{probe.port}/healthz")
        assert status == 200 and doc["checks"]["database"]["ok"]
    finally:
        for resp, _ in streams:
            resp.close()
        probe.stop()
        page.close()
