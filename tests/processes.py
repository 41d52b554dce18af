"""Real processes for integration tests: Mosquitto, `hub serve`, `kiosk run`."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from gatehouse.home import Home
from hub import broker

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, every: float = 0.05,
               message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(every)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """A child process with its output in a log file (read it when a test fails)."""

    def __init__(self, args: list, log: Path, env: dict | None = None):
        self.args, self.log_path, self.env = [str(a) for a in args], log, env
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1",
                                          **(self.env or {})})
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        code, self.proc = self.proc.returncode, None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


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
