#!/usr/bin/python3
"""The test's hands inside the VM: runs shell commands sent by the host over a
virtio-serial port (/dev/virtio-ports/gatehouse.agent), one JSON object per line.

Why not ssh: no keys, no network in the VM (it stays offline like a gate), no sshd to
wait for, and a command costs no handshake under TCG emulation. Requests run in threads
so a long wait (watching the relay line) does not block a kill sent meanwhile.

  host -> {"id": 7, "sh": "systemctl is-active gatehouse-kiosk", "timeout": 30}
  host <- {"id": 7, "rc": 0, "out": "active\n", "err": ""}
  guest at start -> {"hello": "<boot id>"}
"""
import json
import os
import subprocess
import threading
import time

PORT = "/dev/virtio-ports/gatehouse.agent"
write_lock = threading.Lock()


def send(fd: int, obj: dict) -> None:
    data = (json.dumps(obj) + "\n").encode()
    with write_lock:
        while data:
            data = data[os.write(fd, data):]


def serve(fd: int, req: dict) -> None:
    try:
        proc = subprocess.run(["/bin/sh", "-c", req["sh"]], input=req.get("input", ""),
                              capture_output=True, text=True, errors="replace",
                              timeout=req.get("timeout", 60))
        reply = {"rc": proc.returncode, "out": proc.stdout, "err": proc.stderr}
    except subprocess.TimeoutExpired as e:
        reply = {"rc": 124, "out": str(e.stdout or ""), "err": f"timed out after {e.timeout} s"}
    except Exception as e:  # report, never die: the agent must outlive bad requests
        reply = {"rc": 125, "out": "", "err": repr(e)}
    send(fd, {"id": req["id"], **reply})


def main() -> None:
    boot_id = open("/proc/sys/kernel/random/boot_id").read().strip()
    while True:
        while not os.path.exists(PORT):
            time.sleep(0.2)
        fd = os.open(PORT, os.O_RDWR)
        send(fd, {"hello": boot_id})
        buf = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:  # the host end is closed: wait, then say hello again
                time.sleep(0.5)
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    req = json.loads(line)
                except ValueError:
                    continue
                if req.get("ping"):
                    send(fd, {"hello": boot_id})
                    continue
                threading.Thread(target=serve, args=(fd, req), daemon=True).start()
        os.close(fd)


if __name__ == "__main__":
    main()
