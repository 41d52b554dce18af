"""Socket settings both sides' MQTT clients use."""
from __future__ import annotations

import socket


def nodelay(client, userdata, sock) -> None:
    """paho on_socket_open: TCP_NODELAY. Nagle's algorithm cost ~40 ms a hop here."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def close_client(client) -> None:
    """Disconnect a paho client, stop its thread and close its sockets now.

    paho 2.x keeps the wake-up socket pair of loop_start() open until the client is
    garbage collected; closing it here keeps long-running processes and tests clean.
    """
    client.disconnect()
    client.loop_stop()
    reset = getattr(client, "_reset_sockets", None)
    if reset is not None:
        reset()
