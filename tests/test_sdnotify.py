"""gatehouse.sdnotify: datagrams reach systemd's socket (path or abstract), never block,
and are rate-limited for the watchdog; without $NOTIFY_SOCKET nothing happens."""
from __future__ import annotations

import doctest
import os
import socket

import pytest

from gatehouse import sdnotify
from gatehouse.sdnotify import Notifier


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def test_ready_status_and_watchdog_arrive(listener):
    path, sock = listener
    n = Notifier(path)
    assert n.ready(status="screen up")
    assert sock.recv(200) == b"READY=1\nSTATUS=screen up"
    assert n.watchdog(now=100.0)
    assert sock.recv(200) == b"WATCHDOG=1"
    assert not n.watchdog(now=100.5)  # at most once a second
    assert n.watchdog(now=101.0)
    assert sock.recv(200) == b"WATCHDOG=1"
    n.close()


def test_abstract_socket():
    name = f"gatehouse-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    n = Notifier("@" + name)
    try:
        assert n.status("waiting")
        assert sock.recv(200) == b"STATUS=waiting"
    finally:
        n.close()
        sock.close()


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier.from_environment()
    assert not n.enabled and not n.ready() and not n.watchdog()


def test_a_dead_socket_neither_raises_nor_blocks(tmp_path, caplog):
    n = Notifier(str(tmp_path / "nobody-listens"))
    assert not n.ready()
    assert not n.status("x")
    n.close()
    assert caplog.text.count("cannot notify systemd") == 1


def test_a_full_socket_does_not_block(listener):
    path, sock = listener
    n = Notifier(path)
    sent = sum(n.send("STATUS=" + "x" * 1000) for _ in range(5000))  # nobody reads
    n.close()
    assert sent < 5000  # the queue filled, and send() returned rather than waited


def test_docstring_examples_run():
    assert doctest.testmod(sdnotify).failed == 0
