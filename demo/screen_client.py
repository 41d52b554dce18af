"""The volunteer's screen of a kiosk (its HTTP API) driven as a browser would: one
keep-alive connection, the page's CSRF token, JSON in and out. The demo's volunteer
and the parcels bench use it."""
from __future__ import annotations

import html.parser
import http.client
import json
import time

LOOPBACK = "127.0.0.1"


class _Meta(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.csrf: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and a.get("name") == "csrf-token":
            self.csrf = a.get("content")


class Screen:
    """The volunteer's screen API over one keep-alive HTTP connection, as a browser."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
        self.token = ""

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body, headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()   # the server closed the kept-alive connection: once more
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def open(self, timeout: float = 30.0) -> None:
        """Read the screen's CSRF token once the gate is up (its page answers 503 while
        it starts)."""
        deadline = time.monotonic() + timeout
        status, page = self._request("GET", "/")
        while status == 503 and time.monotonic() < deadline:
            time.sleep(0.1)
            status, page = self._request("GET", "/")
        parser = _Meta()
        parser.feed(page.decode())
        if status != 200 or not parser.csrf:
            raise RuntimeError(f"GET / gave {status} without a csrf-token meta tag")
        self.token = parser.csrf

    def state(self) -> dict:
        status, body = self._request("GET", "/api/state")
        return json.loads(body) if status == 200 else {}

    def post(self, path: str, doc: dict) -> tuple[int, dict]:
        status, body = self._request("POST", path, json.dumps(doc).encode(),
                                     {"Content-Type": "application/json",
                                      "X-CSRF-Token": self.token})
        return status, json.loads(body or b"{}")

    def close(self) -> None:
        self.conn.close()
