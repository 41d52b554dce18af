#!/usr/bin/python3
"""Runs inside the VM (copied there per run, not part of the image): watches the relay
line from the kernel's side (gpio-sim's sysfs value) every few milliseconds, optionally
acts on the kiosk at the right moment, and prints what it saw as one JSON object.
Times are CLOCK_MONOTONIC seconds of the VM.

  line.py watch SECONDS [--log FILE]      every change of level for SECONDS
  line.py kill-mid-pulse SIGNAL WAIT      wait up to WAIT s for the line to unlock, send
                                          SIGNAL to the kiosk 0.5 s into the pulse, watch
                                          until it is locked again (and 5 s more)
With --log, each change is also appended to FILE at once (the host's share: it survives
a power cut of the VM).
"""
import json
import os
import signal
import sys
import time

VALUE = "/run/gpio-sim/sim_gpio17/value"
LOCKED = 1


def level() -> int:
    with open(VALUE) as f:
        return int(f.read().strip())


CGROUP = "/sys/fs/cgroup/system.slice/gatehouse-kiosk.service/cgroup.procs"


def kiosk_pids() -> tuple[int, list[int]]:
    """(main pid, every pid) of the kiosk unit, read from its cgroup: a file read takes
    microseconds where `systemctl show` took seconds on a slow emulated VM (CI once ran
    past the whole 3 s pulse asking it). The main process is the one systemd started."""
    with open(CGROUP) as f:
        pids = [int(x) for x in f.read().split()]
    main = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == 1:
            main = pid
    return main, pids


class Watcher:
    def __init__(self, log: str | None = None):
        self.changes: list[tuple[float, float, int]] = []   # (monotonic, wall time, level)
        self.last = level()
        self.log = open(log, "a", buffering=1) if log else None
        self._note(self.last)

    def _note(self, value: int) -> None:
        mono, wall = time.monotonic(), time.time()
        self.changes.append((mono, wall, value))
        if self.log:
            self.log.write(f"{wall:.3f} {value}\n")
            os.fsync(self.log.fileno())

    def poll(self) -> int:
        value = level()
        if value != self.last:
            self.last = value
            self._note(value)
        return value

    def run_for(self, seconds: float, every: float = 0.005) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()
            time.sleep(every)


def main(argv: list[str]) -> dict:
    log = None
    if "--log" in argv:
        i = argv.index("--log")
        log = argv[i + 1]
        del argv[i:i + 2]
    mode = argv[0]
    w = Watcher(log)
    out: dict = {"mode": mode}
    if mode == "watch":
        w.run_for(float(argv[1]))
    elif mode == "kill-mid-pulse":
        sig, wait = int(argv[1]), float(argv[2])
        end = time.monotonic() + wait
        while w.poll() == LOCKED and time.monotonic() < end:
            time.sleep(0.005)
        if w.last == LOCKED:
            out["error"] = f"the line never unlocked in {wait:.0f} s"
        else:
            out["unlocked_at"] = w.changes[-1][0]
            pid, pids = kiosk_pids()
            out["pid"] = pid
            w.run_for(out["unlocked_at"] + 0.5 - time.monotonic())
            out["still_unlocked_at_kill"] = w.poll() != LOCKED
            for p in pids:   # the whole unit, as `systemctl kill --signal=` would
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            out["kill_at"] = time.monotonic()
            end = out["kill_at"] + 30
            while w.poll() != LOCKED and time.monotonic() < end:
                time.sleep(0.002)
            if w.last == LOCKED:
                out["locked_at"] = w.changes[-1][0]
            w.run_for(5)
    out["changes"] = w.changes
    out["level"] = w.last
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
