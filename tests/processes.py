"""Real processes for integration tests: Mosquitto, `hub serve`, `kiosk run`."""
from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gatehouse.home import Home
from gatehouse.processes import LOOPBACK, Process, free_port, port_open, wait_until
from hub import broker

__all__ = ["BIN", "Broker", "Forwarder", "Process", "free_port", "hub_process",
           "kiosk_process", "port_open", "wait_until"]

BIN = Path(sys.executable).parent


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local HTTP server on a free loopback port answering with `handler`, on its own
    thread; yields its base URL and shuts it down after."""
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def answer_json(handler: BaseHTTPRequestHandler, status: int, text: str) -> None:
    """Send `text` as a JSON reply from inside a handler."""
    data = text.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Broker(Process):
    def __init__(self, files: broker.BrokerFiles, port: int, log: Path):
        super().__init__(["mosquitto", "-c", files.conf], log)
        self.files, self.port = files, port

    def start(self) -> Broker:
        super().start()
        try:
            wait_until(lambda: port_open(self.port) or not self.running(), 10,
                       message="mosquitto to listen")
            if not self.running():
                raise AssertionError(f"mosquitto exited:\n{self.output()[-2000:]}")
        except BaseException:
            self.stop()
            raise
        return self


def hub_process(home: Home, log: Path) -> Process:
    return Process([BIN / "hub", "serve", "--home", home.root], log)


def kiosk_process(home: Home, camera: str, log: Path, **env) -> Process:
    env = {"web_port": 0, **env}  # any free port for the screen: tests run side by side
    return Process([BIN / "kiosk", "run", "--home", home.root, "--camera", camera,
                    "--pin-factory", "mock", "--clock", "trusted"], log,
                   {f"GATEHOUSE_KIOSK_{k.upper()}": str(v) for k, v in env.items()})


class Forwarder:
    """A TCP forwarder between one gate and the broker, cut and restored by the test: the
    gate alone goes offline (the broker, the hub and the other gates stay up)."""

    def __init__(self, target_port: int):
        self.target, self.port = target_port, free_port()
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(8)
        self._server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def _accept(self, srv) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            if self._server is not srv:   # cut while connecting
                client.close()
                upstream.close()
                continue
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones, like a pulled cable."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for s in self._conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self._conns = []


class ScreenClient:
    """A kiosk screen's JSON API, used as its own page uses it (the CSRF token read from
    the page, JSON bodies)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/") + "/"
        self.token: str | None = None

    def up(self) -> bool:
        """Whether the screen answers; reads its CSRF token when it does."""
        try:
            page = urllib.request.urlopen(self.url, timeout=2).read().decode()
        except OSError:
            return False
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        return True

    def state(self) -> dict:
        return json.loads(urllib.request.urlopen(self.url + "api/state", timeout=5).read())

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path.lstrip("/"), json.dumps(body).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-CSRF-Token": self.token or ""})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
