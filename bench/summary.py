"""What machine a bench ran on, and the one line a technician pastes back.

Every Pi-ready bench ends with one line that starts with `GATEHOUSE-BENCH`, holds the
machine (a Pi's model from the device tree), the OS, Python and library versions, the
load when the bench started, the SoC temperature and throttling at its end (a hot or
under-powered Pi runs slower), and the bench's key figures, `key=value` separated by
` | `. One line, so it survives a chat window or a phone's SMS app.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PREFIX = "GATEHOUSE-BENCH"
LIBRARIES = ("numpy", "opencv-python-headless", "zxing-cpp", "pyzbar")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_bytes().replace(b"\0", b"").decode(errors="replace").strip() or None
    except OSError:
        return None


def model() -> str:
    """The board's name (`Raspberry Pi 4 Model B Rev 1.5`), else the CPU's, else the arch."""
    found = _read("/proc/device-tree/model") or _read("/sys/firmware/devicetree/base/model")
    if found:
        return found
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.lower().startswith(("model name", "hardware")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def os_name() -> str:
    for line in (_read("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def libraries() -> str:
    out = []
    for name in LIBRARIES:
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(out)


def temperature() -> str | None:
    """The SoC's temperature (thermal zone 0), e.g. `61.3C`."""
    raw = _read("/sys/class/thermal/thermal_zone0/temp")
    try:
        return f"{int(raw) / 1000:.1f}C" if raw else None
    except ValueError:
        return None


def throttled() -> str | None:
    """`vcgencmd get_throttled` on Raspberry Pi OS (0x0: never throttled or under-volted)."""
    if not shutil.which("vcgencmd"):
        return None
    try:
        out = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().split("=", 1)[-1] or None


def load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


class Summary:
    """Collects the machine at the start of a bench and prints its one line at the end."""

    def __init__(self, bench: str, mode: str):
        self.bench, self.mode, self.load_at_start = bench, mode, load()

    def line(self, figures: dict[str, str]) -> str:
        fields = {
            "machine": model(),
            "arch": platform.machine(),
            "os": os_name(),
            "cores": str(os.cpu_count()),
            "python": platform.python_version(),
            "libs": libraries(),
            "load": self.load_at_start,
            "temp": temperature(),
            "throttled": throttled(),
            **figures,
        }
        return " | ".join([f"{PREFIX} {self.bench} {self.mode}"] +
                          [f"{k}={v}" for k, v in fields.items() if v is not None])

    def print(self, figures: dict[str, str]) -> None:
        print("\nPaste this line back (one line):", flush=True)
        print(self.line(figures), flush=True)
