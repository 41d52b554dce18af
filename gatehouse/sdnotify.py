"""Tell systemd how a service is doing (sd_notify), with the standard library only.

A unit with Type=notify waits for READY=1 before it counts the service as started;
with WatchdogSec= it restarts the service when WATCHDOG=1 stops arriving. STATUS=
lines show up in `systemctl status`. Outside systemd ($NOTIFY_SOCKET unset) every
call does nothing, so tests and a technician's shell run the same code.

Sending never blocks and never raises: a watchdog ping that cannot be delivered must
not stop the gate loop that sends it (systemd will notice the silence by itself).

>>> notifier = Notifier(socket_path=None)
>>> notifier.ready(status="screen up")
False
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

log = logging.getLogger(__name__)


class Notifier:
    """One service's line to systemd; `watchdog()` may be called as often as you like."""

    def __init__(self, socket_path: str | None = None, *, min_interval_s: float = 1.0):
        self.path = socket_path
        self.min_interval_s = min_interval_s
        self._last_ping = float("-inf")
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environment(cls) -> Notifier:
        """The notifier systemd set up for this process ($NOTIFY_SOCKET), or a silent one."""
        return cls(os.environ.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def ready(self, status: str | None = None) -> bool:
        """READY=1: the service is up (systemd's start job finishes)."""
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        """STATUS=...: one line for `systemctl status`."""
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self, now: float | None = None) -> bool:
        """WATCHDOG=1, at most once per `min_interval_s` (cheap to call every loop pass)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._last_ping < self.min_interval_s:
                return False
            self._last_ping = now
        return self.send("WATCHDOG=1")

    def send(self, message: str) -> bool:
        """Send one datagram; False when there is no socket or it could not be sent."""
        if self.path is None:
            return False
        address = self.path
        if address.startswith("@"):  # an abstract socket: its name starts with a NUL
            address = "\0" + address[1:]
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    self._sock.setblocking(False)
                self._sock.sendto(message.encode(), address)
            return True
        except OSError as exc:
            if not self._warned:  # once: a missing socket would otherwise log every second
                self._warned = True
                log.warning("cannot notify systemd at %s: %s", self.path, exc)
            return False

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
