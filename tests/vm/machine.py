"""One QEMU virtual machine booted from the cached image through a throw-away qcow2
overlay, driven through the in-VM agent (guest/agent.py) over virtio-serial.

TCG only (CI has no KVM). The CPU model must have SSE4.1/4.2 and POPCNT: the lgpio wheel
from PyPI uses them and QEMU's default model dies with SIGILL. No network device at all:
the VM is as offline as a gate whose hub has no internet; the host hands it files through
three 9p shares (project, wheelhouse, the run's folder).
"""
from __future__ import annotations

import contextlib
import json
import queue
import shlex
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gatehouse.processes import Process, wait_until
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
        self.qemu: Process | None = None
        self._sock: socket.socket | None = None
        self._replies: dict[int, queue.Queue] = {}
        self._hellos: queue.Queue[str] = queue.Queue()
        self._next_id = 0
        self._lock = threading.Lock()
        self.boot_id: str | None = None
        self.boots = 0

    # -- the QEMU process ------------------------------------------------------------

    def create_overlay(self, backing: Path | None = None) -> None:
        """A fresh overlay on `backing` (the image's base disk unless given): the run's
        writes go here, the cached layers stay untouched."""
        self.overlay.unlink(missing_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                        str(backing or self.image.disk), str(self.overlay)], check=True,
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
        # its own process group: the power cut kills QEMU and anything it started
        self.qemu = Process(cmd, self.run_dir / "qemu.log", name="qemu",
                            own_session=True).start()
        self._connect()
        self.boots += 1

    def _fail_if_qemu_exited(self, during: str) -> None:
        if not self.qemu.running():
            raise VMError(f"qemu exited ({self.qemu.returncode}) {during}:\n"
                          + self.tail("console.log") + "\n" + self.qemu.tail())

    def _connect(self) -> None:
        def connected() -> socket.socket | None:
            self._fail_if_qemu_exited("before its agent socket was there")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(self.sock_path))
                return s
            except OSError:
                s.close()
                return None
        self._sock = wait_until(connected, 30, every=0.1, message="QEMU's agent socket")
        self._hellos = queue.Queue()
        threading.Thread(target=self._reader, args=(self._sock,), daemon=True).start()

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

        def new_boot() -> str | None:
            self._fail_if_qemu_exited("during boot")
            try:
                boot_id = self._hellos.get(timeout=max(0.0, min(deadline - time.monotonic(), 3)))
            except queue.Empty:
                # a hello sent before the host listened is lost: ask again
                with contextlib.suppress(OSError):
                    self._sock.sendall(b'{"ping": 1}\n')
                return None
            return boot_id if boot_id != previous else None
        self.boot_id = wait_until(new_boot, timeout, every=0, message="the VM to boot",
                                  seen=lambda _: "console:\n" + self.tail("console.log"))
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
        if self.qemu:
            self.qemu.kill(group=True)
        if self._sock:
            self._sock.close()
            self._sock = None

    def stop(self) -> None:
        """Power off at the end of a run: no clean shutdown needed, the overlay is discarded."""
        self.power_cut()

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.run_dir / name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
