"""Child processes with their output in a log file, free ports and waiting: the one
harness the tests, the benches and the demo start Mosquitto, `hub serve` and `kiosk run`
with (tests/processes.py, bench/, demo/), and the VM test its QEMU (tests/vm/machine.py)."""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_until(condition: Callable[[], T], timeout: float = 10.0, every: float = 0.05,
               message: str = "condition", *, until: Callable[[T], object] | None = None,
               seen: Callable[[T], object] | None = None) -> T:
    """Poll `condition()` until its value is truthy (or `until(value)` is) and return the
    value. At the deadline a TimeoutError names `message` and, given `until` or `seen`,
    what the last poll saw: `seen(value)`, else the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if (until(value) if until else value):
            return value
        if time.monotonic() > deadline:
            last = ""
            if until or seen:
                last = f"; last seen: {seen(value) if seen else repr(value)[:2000]}"
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {message}{last}")
        time.sleep(every)


def _die_with_parent() -> None:
    # The demo's children go when it goes, even on kill -9 (Linux: PR_SET_PDEATHSIG).
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Process:
    """A child process with its output in a log file (read it when something fails) and
    nothing on its stdin. `own_session`: Ctrl-C at the terminal reaches the parent only,
    which hands it on, and the child leads a process group of its own (stop(group=True));
    `die_with_parent`: SIGTERM to the child when the parent dies, however it dies."""

    def __init__(self, args: list, log: Path, env: dict | None = None, *, name: str = "",
                 own_session: bool = False, die_with_parent: bool = False):
        self.args, self.log_path, self.env = [str(a) for a in args], Path(log), env
        self.name = name or Path(self.args[0]).name
        self.own_session, self.die_with_parent = own_session, die_with_parent
        self.proc: subprocess.Popen | None = None
        self._exit_code: int | None = None

    def start(self) -> Process:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})},
            start_new_session=self.own_session,
            preexec_fn=_die_with_parent if self.die_with_parent else None)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Its exit code once it has ended (kept after stop()); None while it runs."""
        return self.proc.poll() if self.proc is not None else self._exit_code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15, *,
             group: bool = False) -> int | None:
        """Signal it, wait `timeout` s, then kill it; its exit code (None if never run).
        `group`: the signals go to its whole process group, its own children too
        (`own_session` only: without it the group is the parent's)."""
        if self.proc is None:
            return None
        if group and not self.own_session:
            raise ValueError(f"{self.name}: no process group of its own (own_session)")
        if self.proc.poll() is None:
            self._signal(sig, group)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL, group)
                self.proc.wait(5)
        self._log.close()
        self._exit_code, self.proc = self.proc.returncode, None
        return self._exit_code

    def _signal(self, sig: int, group: bool) -> None:
        if group:
            with contextlib.suppress(ProcessLookupError):  # the group is gone already
                os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    def kill(self, *, group: bool = False) -> None:
        """SIGKILL: no handler runs (a power cut, a crash)."""
        self.stop(signal.SIGKILL, group=group)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, chars: int = 3000) -> str:
        return self.output()[-chars:]
