"""A person's way into the test's VM (scripts/vm): boot the cached installed gate on a
throw-away overlay and keep it up, then run commands in it from other shells.

  scripts/vm up          boot (after the test has built its cache once); prints the folder
  scripts/vm run CMD...  run a shell command in the VM as root, print its output
  scripts/vm down        power off, drop the overlay
"""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from pathlib import Path

from gatehouse.processes import Process

CTL = Path(os.environ.get("GATEHOUSE_VM_CTL", "/tmp/gatehouse-vm-console.sock"))


def serve() -> None:
    from tests.vm.session import Session
    s = Session()
    s.up()
    s.update_code()
    s.start_services()
    print(f"up: {s.run_dir}", flush=True)
    CTL.unlink(missing_ok=True)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(CTL))
    srv.listen()
    try:
        while True:
            conn, _ = srv.accept()
            with conn:
                req = json.loads(conn.makefile().readline())
                if req.get("down"):
                    conn.sendall(b'{"rc": 0, "out": "down\\n", "err": ""}\n')
                    break
                r = s.vm.run(req["sh"], timeout=req.get("timeout", 600))
                conn.sendall((json.dumps(r.__dict__) + "\n").encode())
    finally:
        s.down()
        CTL.unlink(missing_ok=True)


def ask(req: dict) -> int:
    c = socket.socket(socket.AF_UNIX)
    c.connect(str(CTL))
    c.sendall((json.dumps(req) + "\n").encode())
    reply = json.loads(c.makefile().readline())
    sys.stdout.write(reply["out"])
    sys.stderr.write(reply["err"])
    return reply["rc"]


def main(argv: list[str]) -> int:
    if argv == ["serve"]:   # the child that `up` leaves running
        serve()
        return 0
    if not argv or argv[0] not in ("up", "run", "down"):
        print(__doc__)
        return 2
    if argv[0] == "up":
        log = Path(tempfile.gettempdir()) / "gatehouse-vm-console.log"
        log.unlink(missing_ok=True)
        # its own session: it outlives this command and the terminal's Ctrl-C
        Process([sys.executable, "-m", "tests.vm.console", "serve"], log, name="vm console",
                own_session=True).start()
        print(f"booting; progress in {log}")
        return 0
    if argv[0] == "down":
        return ask({"down": True})
    return ask({"sh": " ".join(argv[1:])})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
