"""One QEMU virtual machine booted from the cached image through a throw-away qcow2
overlay, driven through the in-VM agent (guest/agent.py) over virtio-serial.

TCG only (CI has no KVM). The CPU model must have SSE4.1/4.2 and POPCNT: the lgpio wheel
from PyPI uses them and QEMU's default model dies with SIGILL. No network device at all:
the VM is as offline as a gate whose hub has no internet; the host hands it files through
three 9p shares (project, wheelhouse, the run's folder).
"""
from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.vm.image import Image


class VMError(RuntimeError):
    pass


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


class Machine:
    def __init__(self, image: Image, run_dir: Path, shares: dict[str, tuple[Path, bool]],
                 memory_mb: int = 2048, cpus: int = 2) -> None:
        """shares: mount tag -> (host folder, read-only)."""
        self.image, self.run_dir, self.shares = image, run_dir, shares
        self.memory_mb, self.cpus = memory_mb, cpus
        self.overlay = run_dir / "overlay.qcow2"
        self.sock_path = run_dir / "agent.sock"
        self.console = run_dir / "console.log"
        self.proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._replies: dict[int, queue.Queue] = {}
        self._hellos: queue.Queue[str] = queue.Queue()
        self._next_id = 0
        self._lock = threading.Lock()
        self.boot_id: str | None = None
        self.boots = 0

    # -- the QEMU process ------------------------------------------------------------

    def create_overlay(self) -> None:
        """A fresh overlay: the run's writes go here, the cached base stays untouched."""
        self.overlay.unlink(missing_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                        str(self.image.disk), str(self.overlay)], check=True,
                       capture_output=True)

    def start(self, target: str | None = None) -> None:
        """Power on (the overlay keeps what an earlier power-on wrote). `target`: boot to
        this systemd unit instead of the default (multi-user.target), e.g. basic.target:
        everything up to the services, which `systemctl start multi-user.target` then
        starts in the order a boot would."""
        if not self.overlay.exists():
            self.create_overlay()
        self.sock_path.unlink(missing_ok=True)
        cmd = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
               "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "Nehalem",
               "-smp", str(self.cpus), "-m", str(self.memory_mb),
               "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
               "-append", "root=/dev/vda rw console=ttyS0,115200 loglevel=4 "
                          "systemd.show_status=auto net.ifnames=0"
                          + (f" systemd.unit={target}" if target else ""),
               # cache=writeback: a guest flush reaches the host file, so killing QEMU is a
               # power cut that loses only what the guest had not flushed (and never
               # corrupts the qcow2 metadata the way cache=unsafe could)
               "-drive", f"file={self.overlay},if=virtio,format=qcow2,cache=writeback,discard=unmap",
               "-device", "virtio-rng-pci",  # entropy at once: Python's crypto would wait
               "-nic", "none",
               "-serial", f"file:{self.console}",
               "-chardev", f"socket,id=agent,path={self.sock_path},server=on,wait=off",
               "-device", "virtio-serial-pci",
               "-device", "virtserialport,chardev=agent,name=gatehouse.agent",
               "-rtc", "base=utc,clock=host"]
        for tag, (folder, readonly) in self.shares.items():
            cmd += ["-virtfs", f"local,path={folder},mount_tag={tag},security_model=none"
                               + (",readonly=on" if readonly else "")]
        self.console.touch()
        self._qemu_log = open(self.run_dir / "qemu.log", "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._qemu_log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._connect()
        self.boots += 1

    def _connect(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise VMError(f"qemu exited ({self.proc.returncode}): {self.tail('qemu.log')}")
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(self.sock_path))
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise VMError("qemu's agent socket never appeared")
                time.sleep(0.1)
        self._sock = s
        self._hellos = queue.Queue()
        threading.Thread(target=self._reader, args=(s,), daemon=True).start()

    def _reader(self, s: socket.socket) -> None:
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue  # half a line from before a reboot
                if "hello" in msg:
                    self._hellos.put(msg["hello"])
                elif (q := self._replies.get(msg.get("id"))) is not None:
                    q.put(msg)

    def wait_boot(self, timeout: float = 240, previous: str | None = None) -> float:
        """Wait for the agent of a boot other than `previous`, then for systemd to settle
        (starting units done). Returns the seconds it took."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise VMError(f"the VM did not boot in {timeout:.0f} s; console:\n"
                              + self.tail("console.log"))
            if self.proc.poll() is not None:
                raise VMError(f"qemu exited ({self.proc.returncode}) during boot:\n"
                              + self.tail("console.log"))
            try:
                boot_id = self._hellos.get(timeout=min(left, 3))
            except queue.Empty:
                # a hello sent before the host listened is lost: ask again
                try:
                    self._sock.sendall(b'{"ping": 1}\n')
                except OSError:
                    pass
                continue
            if boot_id != previous:
                self.boot_id = boot_id
                break
        r = self.run("systemctl is-system-running --wait", timeout=max(deadline - time.monotonic(), 5))
        if r.out.strip() not in ("running", "degraded"):
            raise VMError(f"systemd did not settle: {r.out.strip()} {r.err.strip()}")
        return time.monotonic() - t0

    def run(self, command: str, timeout: float = 120, input: str = "", check: bool = False) -> Result:
        """Run a shell command as root in the VM."""
        with self._lock:
            self._next_id += 1
            rid = self._next_id
            q: queue.Queue = queue.Queue()
            self._replies[rid] = q
            data = (json.dumps({"id": rid, "sh": command, "timeout": timeout, "input": input})
                    + "\n").encode()
            try:
                self._sock.sendall(data)
            except OSError as e:
                raise VMError(f"agent connection lost: {e}")
        try:
            msg = q.get(timeout=timeout + 15)
        except queue.Empty:
            raise VMError(f"no answer from the VM in {timeout + 15:.0f} s to: {command}")
        finally:
            self._replies.pop(rid, None)
        result = Result(msg["rc"], msg["out"], msg["err"])
        if check and not result.ok:
            raise VMError(f"in the VM, `{command}` failed ({result.rc}):\n{result.out[-3000:]}"
                          f"\n{result.err[-3000:]}")
        return result

    def sh(self, command: str, timeout: float = 120, **kw) -> str:
        """Run and return stdout; raise with the output when it fails."""
        return self.run(command, timeout=timeout, check=True, **kw).out

    def put(self, path: str, text: str, mode: str = "0644") -> None:
        self.sh(f"install -D -m {mode} /dev/stdin {shlex.quote(path)}", input=text)

    def power_cut(self) -> None:
        """Kill QEMU outright: the guest's page cache and unflushed writes are lost."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        """Power off at the end of a run: no clean shutdown needed, the overlay is discarded."""
        self.power_cut()

    def _close(self) -> None:
        if self._sock:
            self._sock.close()
            self._sock = None
        if getattr(self, "_qemu_log", None):
            self._qemu_log.close()

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.run_dir / name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
