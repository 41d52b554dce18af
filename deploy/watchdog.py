#!/usr/bin/env python3
"""Run a Gatehouse service under systemd's watchdog (Type=notify, WatchdogSec=).

    watchdog.py [--http URL] [--grace S] -- COMMAND...   run COMMAND; tell systemd
        READY=1 when it is up (URL answers, if given), then WATCHDOG=1 every
        WatchdogSec/3 while it is alive and URL answers. A hung child is not pinged,
        so systemd kills the service and Restart= starts it again.
    watchdog.py --wait-http URL [--grace S]               wait until URL answers.

Standard library only; the child gets SIGTERM/SIGINT passed on and its exit status
becomes ours.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def notify(message: str) -> None:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.setblocking(False)  # never hang the service on a busy systemd
        try:
            s.connect(addr)
            s.send(message.encode())
        except OSError:
            pass


def answers(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--http", help="health URL: any answer below 500 is healthy")
    p.add_argument("--wait-http", help="only wait until this URL answers, then exit")
    p.add_argument("--grace", type=float, default=60.0,
                   help="seconds the service may take to come up")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.wait_http:
        deadline = time.monotonic() + args.grace
        while not answers(args.wait_http):
            if time.monotonic() > deadline:
                print(f"{args.wait_http} did not answer in {args.grace:.0f} s", file=sys.stderr)
                return 1
            time.sleep(1)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("no command given")
    child = subprocess.Popen(command)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    every = usec / 3e6 if usec else 10.0
    started, ready = time.monotonic(), False
    while child.poll() is None:
        healthy = answers(args.http) if args.http else True
        if healthy and not ready:
            notify("READY=1")
            ready = True
        if healthy and usec:
            notify("WATCHDOG=1")
        elif not ready and time.monotonic() - started > args.grace:
            notify("STATUS=not up after grace period")
        try:
            child.wait(every)
        except subprocess.TimeoutExpired:
            pass
    notify("STOPPING=1")
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
