"""`/healthz` and `/metrics`, answered by a small server on a thread of its own.

The technician's probe and Prometheus must get an answer when the admin page's threads
are all busy, and must not need a login: `HealthServer` serves `HealthApp` (plain WSGI)
from its own thread and port, in `hub serve` (with the broker link and the writer) and,
mounted in front of Flask, on the admin page's port too (hub/web/health.py).

    server = serve_health(home, sync, port=8081).start()       # hub serve's root
    GET /healthz  -> 200 {"ok": true, "checks": {"process": …, "database": …,
                                                "broker": …, "writer": …}}, else 503
    GET /metrics  -> the Prometheus text (hub/metrics.py)

`/healthz` says only whether each part works. `/metrics` carries counts (gates, alerts,
parcels; never a name, household or phone) but they still tell someone on the LAN, say,
that a gate is offline: it answers loopback clients, and others only with
`Authorization: Bearer <token>` when `<home>/hub/metrics.token` (0600) exists
(docs/security.md).
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import sqlite_utils

from gatehouse.home import Home
from gatehouse.hosts import LOOPBACK_NAMES, HostAllowlist
from hub import metrics
from hub.metrics import ServeHealth

WRITER_LAG_LIMIT_S = 60.0
TOKEN_NAME = "metrics.token"


class WriterWatch:
    """Turn HubSync.health() samples into ServeHealth: the writer's lag is how long
    messages have waited while the count of stored events did not move."""

    def __init__(self, probe: Callable[[], object], clock: Callable[[], float] = time.monotonic):
        self.probe, self.clock = probe, clock
        self._seen, self._moved = -1, clock()
        self._lock = threading.Lock()

    def sample(self) -> ServeHealth:
        h = self.probe()
        with self._lock:
            now = self.clock()
            if h.ingested != self._seen or not h.waiting:
                self._seen, self._moved = h.ingested, now
            lag = now - self._moved if h.waiting else 0.0
        return ServeHealth(connected=bool(h.connected), waiting=int(h.waiting),
                           writer_lag_s=round(lag, 3), ingested=int(h.ingested),
                           dead=tuple(h.dead))


def read_only(db_path: Path, timeout: float = 2.0) -> sqlite_utils.Database:
    """A connection that can only read, and gives up after `timeout` s on a lock."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=timeout,
                          check_same_thread=False)
    return sqlite_utils.Database(con)


def checks(db_path: Path, serve: ServeHealth | None, started: float,
           now: float) -> tuple[bool, dict]:
    """Each part: {"ok": bool, …}; the whole is ok when every part is."""
    out: dict[str, dict] = {"process": {"ok": not (serve and serve.dead), "pid": os.getpid(),
                                        "uptime_s": round(now - started, 1)}}
    if serve and serve.dead:
        out["process"]["dead_threads"] = list(serve.dead)
    t0 = time.monotonic()
    try:
        db = read_only(db_path)
        try:
            db.execute("select count(*) from gates").fetchone()
        finally:
            db.close()
        out["database"] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000, 1)}
    except sqlite3.Error as exc:
        out["database"] = {"ok": False, "error": str(exc)}
    if serve is not None:
        out["broker"] = {"ok": serve.connected}
        out["writer"] = {"ok": serve.writer_lag_s <= WRITER_LAG_LIMIT_S,
                         "lag_s": serve.writer_lag_s, "waiting": serve.waiting,
                         "stored_since_start": serve.ingested}
    return all(c["ok"] for c in out.values()), out


def _loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


class HealthApp:
    """WSGI: /healthz and /metrics of one hub database; 404 for anything else."""

    def __init__(self, db_path: Path, serve: Callable[[], ServeHealth] | None = None,
                 token_path: Path | None = None, offline_after_s: float = 60.0,
                 clock: Callable[[], float] = time.time):
        self.db_path, self.serve, self.token_path = Path(db_path), serve, token_path
        self.offline_after_s, self.clock = offline_after_s, clock
        self.started = clock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            ok, doc = checks(self.db_path, self.serve() if self.serve else None,
                             self.started, self.clock())
            return self._reply(start_response, "200 OK" if ok else "503 Service Unavailable",
                               "application/json", json.dumps({"ok": ok, "checks": doc}))
        if path == "/metrics":
            if not self.allowed(environ):
                return self._reply(start_response, "401 Unauthorized", "text/plain",
                                   "metrics: from this machine, or with the bearer token\n",
                                   [("WWW-Authenticate", "Bearer")])
            db = read_only(self.db_path)
            try:
                text = metrics.render(metrics.collect(
                    db, self.clock(), self.offline_after_s, self.serve() if self.serve else None))
            finally:
                db.close()
            return self._reply(start_response, "200 OK", metrics.CONTENT_TYPE, text)
        return self._reply(start_response, "404 Not Found", "text/plain", "not found\n")

    def allowed(self, environ) -> bool:
        """Loopback, or the bearer token of metrics.token (when the office made one)."""
        if _loopback(environ.get("REMOTE_ADDR", "")):
            return True
        if self.token_path is None or not self.token_path.exists():
            return False
        if self.token_path.stat().st_mode & 0o077:
            return False                     # a token others can read is no token
        token = self.token_path.read_text().strip()
        if len(token) < 16:
            return False                     # an empty or short token is no token
        want = "Bearer " + token
        # bytes: compare_digest refuses a str with non-ASCII (a 500, not a 401)
        return hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", "").encode("utf-8",
                                                                               "replace"),
                                   want.encode())

    @staticmethod
    def _reply(start_response, status: str, ctype: str, body: str, extra=()):
        data = body.encode()
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data))),
                                ("Cache-Control", "no-store"), *extra])
        return [data]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    timeout = 10                    # an idle or trickling connection gives its thread back

    def log_message(self, *args):   # a probe every few seconds is not news
        pass


class HealthServer:
    """Serve a HealthApp on its own thread (and a thread per request)."""

    def __init__(self, app: HealthApp, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        # Loopback only, and only by loopback names: a page in a browser on this machine
        # cannot reach it through a rebound name (docs/security.md).
        self._server = make_server(host, port, HostAllowlist(app, LOOPBACK_NAMES),
                                   server_class=_Server, handler_class=_Quiet)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.5,),
                                        name="hub-health", daemon=True)

    @property
    def name(self) -> str:
        return self._thread.name

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def token_path(home: Home) -> Path:
    return home.hub / TOKEN_NAME


def serve_health(home: Home, sync, port: int, host: str = "127.0.0.1") -> HealthServer:
    """`hub serve`'s health server: its broker link and writer, from `sync.health()`."""
    watch = WriterWatch(sync.health)
    return HealthServer(HealthApp(home.hub_db, watch.sample, token_path(home)), host, port)
