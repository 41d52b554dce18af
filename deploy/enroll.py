#!/usr/bin/env python3
"""Enroll this gate (install-kiosk.sh): like `kiosk enroll`, but while the hub's page
does not answer (the hub still installing, its admin page restarting, a cable) it says
so with a countdown and tries again, for a bounded time, instead of giving up at once.
Run with the gate's virtual environment:

    python enroll.py (--code TEXT | --camera SPEC) [--wait 600] [--home DIR]
"""
from __future__ import annotations

import argparse
import sys
import time

from gatehouse.home import Home
from kiosk.enroll import EnrollFailed, enroll, parse_code, scan_for_code

EVERY_S = 5.0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--code", help="the enrollment code's text")
    source.add_argument("--camera", help="scan the code with this camera (v4l2:0, picamera2)")
    p.add_argument("--home", default=None, help="GATEHOUSE_HOME (default: the environment's)")
    p.add_argument("--wait", type=float, default=600.0,
                   help="seconds to keep trying while the hub's page does not answer")
    p.add_argument("--scan-timeout", type=float, default=120.0)
    args = p.parse_args(argv)
    home = Home.at(args.home)
    try:
        text = args.code or scan_for_code(args.camera, args.scan_timeout)
        hub_url = parse_code(text)[0]
    except (EnrollFailed, OSError, ValueError) as exc:
        print(f"enroll: {exc}", file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.wait
    while True:
        try:
            done = enroll(home, text)
            break
        except EnrollFailed as exc:
            left = deadline - time.monotonic()
            # Only an unreachable page is worth waiting for; a refusal is final.
            if not str(exc).startswith("cannot reach the hub") or left <= 0:
                hint = (f" (waited {args.wait:.0f} s: is the hub's admin page up? "
                        "systemctl status gatehouse-web on the hub)"
                        if left <= 0 else "")
                print(f"enroll: {exc}{hint}", file=sys.stderr)
                return 1
            reason = str(exc).partition(f"{hub_url}: ")[2].strip("<>")
            reason = reason.removeprefix("urlopen error ")
            print(f"the hub's page {hub_url} does not answer ({reason}); trying again in "
                  f"{EVERY_S:.0f} s, giving up in {int(left) // 60}:{int(left) % 60:02d}",
                  flush=True)
            time.sleep(min(EVERY_S, max(left, 0.1)))
    ep = done.endpoint
    print(f"enrolled as gate {done.gate_id}: broker " + (
        f"{ep.host}:{done.tls_port} over TLS" if done.tls_port else
        f"{ep.host}:{ep.port}, plain MQTT (the hub's broker has no TLS listener)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
