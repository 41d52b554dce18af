"""Socket settings both sides' MQTT clients use."""
from __future__ import annotations

import socket


def nodelay(client, userdata, sock) -> None:
    """paho on_socket_open: TCP_NODELAY. Nagle's algorithm cost ~40 ms a hop here."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass
