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
    gate alone goes offline (the broker, the hub and the other gates stay up).

    Its port is held from start to end: closing and binding it again let another process
    take it in between (an outgoing connection's ephemeral port did, on CI: EADDRINUSE).
    While cut, a connection is accepted and closed at once, like a link that drops."""

    def __init__(self, target_port: int):
        self.target = target_port
        self._conns: list[socket.socket] = []
        self._up = True
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def restore(self) -> None:
        self._up = True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            if not self._up:   # cut while connecting
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
        """Drop the open connections and every new one, like a pulled cable."""
        self._up = False
        conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self.cut()
        self._server.close()


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
