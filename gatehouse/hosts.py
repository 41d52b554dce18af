"""Which host names an HTTP server of the project answers to (DNS rebinding defence).

A page served from `evil.example` whose name an attacker points at 127.0.0.1 (or at
the hub's LAN address) is same-origin with itself: the browser sends `Host:
evil.example:PORT` and the matching `Origin`. A server that trusts its own Host header
then hands that page its CSRF token and state. So every server checks the Host header
against a list before any route runs: the volunteer screen answers only to its
loopback names, the admin page to its configured names and to IP literals (a page
whose origin is an IP address cannot be rebound to another address).

Both apps use `HostAllowlist` as WSGI middleware; refused requests get 421 and are
never seen by Flask.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_name(header: str) -> str:
    """`Host` header -> lower-case name without port or IPv6 brackets ('' when unparseable)."""
    header = header.strip().lower()
    if header.startswith("["):
        name, closed, rest = header[1:].partition("]")
        if not closed:
            return ""
    elif header.count(":") == 1:
        name, rest = header.split(":")[0], header[header.index(":"):]
    else:
        name, rest = header, ""
    if rest and not (rest[0] == ":" and rest[1:].isdigit()):
        return ""
    return name.rstrip(".")


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def this_machine_names() -> tuple[str, ...]:
    """The names the office may type for the hub: its host name, with and without .local."""
    short = socket.gethostname().lower()
    return (short, f"{short}.local") if short else ()


def parse_names(text: str) -> tuple[str, ...]:
    """'hub.lan, office.example' -> ('hub.lan', 'office.example')."""
    return tuple(n.strip().lower().rstrip(".") for n in text.split(",") if n.strip())


class HostAllowlist:
    """WSGI middleware answering 421 to a Host header that is not one of `names`."""

    def __init__(self, app, names: Iterable[str], ip_literals: bool = False):
        self.app = app
        self.names = frozenset(n.lower() for n in names)
        self.ip_literals = ip_literals

    def allows(self, header: str) -> bool:
        name = host_name(header)
        if not name:
            return False
        return name in self.names or (self.ip_literals and is_ip_literal(name))

    def __call__(self, environ, start_response):
        header = environ.get("HTTP_HOST", "")
        if self.allows(header):
            return self.app(environ, start_response)
        log.warning("refused a request for host %r from %s", header[:100],
                    environ.get("REMOTE_ADDR", "?"))
        body = ("421 该地址不由本服务器提供 / this server does not answer to "
                f"host {header[:100]!r}\n").encode()
        start_response("421 Misdirected Request", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
        return [body]
