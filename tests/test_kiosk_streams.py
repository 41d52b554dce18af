"""The volunteer screen's live stream has a few slots (found by the attacking review of
session 4): eight open /events requests from any local process held all eight of the
screen's threads, and a volunteer could no longer sign in. Beyond the slots a stream
gets 204 (EventSource stops; the page polls /api/state), and a closed one gives its slot
back."""
from __future__ import annotations

import http.client
import json

import pytest

from gatehouse.webserver import ThreadedServer
from kiosk.web import create_app
from kiosk.web.state import MAX_STREAMS
from tests.test_gate_modes import kiosk  # noqa: F401


def _open(port: int) -> tuple[http.client.HTTPConnection, int]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/events")
    return c, c.getresponse().status


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_open_streams_do_not_take_the_volunteers_screen(kiosk):  # noqa: F811
    gate = kiosk()
    gate.call = lambda fn, timeout=5.0: fn()
    server = ThreadedServer(create_app(gate, token="t"), threads=8, name="screen-test")
    held = []
    try:
        statuses = []
        for _ in range(8):
            c, status = _open(server.port)
            held.append(c)
            statuses.append(status)
        assert statuses == [200] * MAX_STREAMS + [204] * (8 - MAX_STREAMS)
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        c.request("POST", "/api/signin", body=json.dumps({"volunteer": "x", "pin": "0"}),
                  headers={"X-CSRF-Token": "t", "Content-Type": "application/json"})
        assert c.getresponse().status in (403, 423)      # answered: a wrong volunteer
        c.close()
        assert client_state(server.port) == 200          # the page's fallback answers
    finally:
        for c in held:
            c.close()
        server.close()


def client_state(port: int) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/api/state")
    status = c.getresponse().status
    c.close()
    return status


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_screen_stopped_with_its_live_streams_open_stops_serving(kiosk):  # noqa: F811
    """A kiosk stopping with the volunteer's page open (its /events stream live) used to
    wait out the whole 5 s join while waitress still served that stream, and the door
    was locked only after. Now the server's thread has ended when close() returns and
    the held stream is cut."""
    gate = kiosk()
    gate.call = lambda fn, timeout=5.0: fn()
    server = ThreadedServer(create_app(gate, token="t"), threads=4, name="screen-stop")
    c, status = _open(server.port)
    assert status == 200
    server.close()
    assert not server.thread.is_alive(), "the screen's server still serving after close"
    with pytest.raises((ConnectionRefusedError, OSError)):
        client_state(server.port)
    c.close()
