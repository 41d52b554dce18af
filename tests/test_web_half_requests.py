"""Found by the attacking review of session 4: an outsider on the LAN, no login, held
every connection of `hub web`.

The live overview's 4-stream limit protects waitress's threads from logged-in tabs; but
`hub web` runs waitress with its defaults (connection_limit=100, channel_timeout=120 s):
101 sockets that each send half a request and then a byte a minute keep waitress from
accepting anyone else (the admin page; /healthz on this port too), for as long as they like.
No login, no CSRF token, no thread needed."""
from __future__ import annotations

import socket
import time
import urllib.request

from hub import users
from tests.processes import BIN, Process, free_port, wait_until


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_idle_half_requests_do_not_lock_the_office_out(compound, tmp_path):
    users.add_user(compound.db, "admin", "correct-horse-battery", "admin", int(time.time()))
    port = free_port()
    web = Process([BIN / "hub", "web", "--home", compound.home.root, "--port", port,
                   "--no-cookie-secure"], tmp_path / "web.log",
                  env={"GATEHOUSE_WEB_HEALTH_PORT": "0"}).start()
    held = []
    try:
        wait_until(lambda: port_open(port) or not web.running(), 20, message="hub web")
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
        for _ in range(110):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")   # never finished
            held.append(s)
        time.sleep(1)
        t0 = time.monotonic()
        try:
            status = urllib.request.urlopen(f"http://127.0.0.1:{port}/login",
                                            timeout=8).status
        except OSError as exc:
            status = f"{type(exc).__name__} after {time.monotonic() - t0:.1f} s"
        assert status == 200
    finally:
        for s in held:
            s.close()
        web.stop()
