"""deploy/: the systemd units pass `systemd-analyze verify`, start in the right order,
the install scripts parse, and the watchdog wrapper talks to systemd as it should."""
import getpass
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted(p.name for p in (DEPLOY / "systemd").iterdir())


def render(out: Path, **values) -> list[Path]:
    sets = [f"{k}={v}" for k, v in {"APP": ROOT, "VENV": Path(sys.executable).parent.parent,
                                     "HOME": out / "home", "USER": getpass.getuser(),
                                     **values}.items()]
    args = [sys.executable, DEPLOY / "render_units.py", "--out", out / "units"]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args, check=True, capture_output=True)
    return sorted((out / "units").iterdir())


def unit(units: list[Path], name: str) -> str:
    return next(p for p in units if p.name == name).read_text()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="apt-get install systemd")
def test_units_pass_systemd_analyze_verify(tmp_path):
    # cage (the screen's compositor) is a gate package; any executable stands in here.
    cage = shutil.which("cage") or shutil.which("true")
    units = render(tmp_path, CAGE=cage, CHROMIUM=shutil.which("chromium") or "/usr/bin/chromium")
    assert [p.name for p in units] == UNITS
    r = subprocess.run(["systemd-analyze", "verify", *map(str, units)],
                       capture_output=True, text=True, timeout=60, check=False)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert r.returncode == 0 and problems == [], problems


def test_unit_order_restart_and_watchdog(tmp_path):
    units = render(tmp_path)
    kiosk = unit(units, "gatehouse-kiosk.service")
    # The door is locked before the kiosk (or anything after basic.target) starts.
    assert "Requires=gatehouse-door-lock.service" in kiosk
    assert "After=gatehouse-door-lock.service" in kiosk
    lock = unit(units, "gatehouse-door-lock.service")
    assert "DefaultDependencies=no" in lock and "Before=basic.target gatehouse-kiosk.service" in lock
    assert "door-lock.sh 17 high" in lock          # active-low board: high = relay off
    # The kiosk never waits for the network: a gate works offline.
    deps = [line for line in kiosk.splitlines() if line.startswith(("After=", "Wants=", "Requires="))]
    assert not any("network" in line or "hub" in line for line in deps)
    for name in ("gatehouse-hub.service", "gatehouse-web.service", "gatehouse-kiosk.service"):
        text = unit(units, name)
        assert "Restart=always" in text and "WatchdogSec=" in text and "Type=notify" in text
    assert "Restart=on-failure" in unit(units, "gatehouse-broker.service")
    assert "After=gatehouse-broker.service" in unit(units, "gatehouse-hub.service")
    screen = unit(units, "gatehouse-screen.service")
    assert "After=gatehouse-kiosk.service" in screen and "--kiosk" in screen
    assert "Persistent=true" in unit(units, "gatehouse-backup.timer")
    assert "@" not in "".join(p.read_text() for p in units).replace("getty@", "")
    # An active-high board is held low instead.
    units = render(tmp_path / "b", RELAY_LOCKED_LEVEL="low", RELAY_PIN=5)
    assert "door-lock.sh 5 low" in unit(units, "gatehouse-door-lock.service")


def test_install_scripts_parse():
    for name in ("lib.sh", "install-hub.sh", "install-kiosk.sh", "upgrade.sh", "door-lock.sh"):
        r = subprocess.run(["sh", "-n", DEPLOY / name], capture_output=True, text=True, check=False)
        assert r.returncode == 0, (name, r.stderr)
    for name in ("install-hub.sh", "install-kiosk.sh", "upgrade.sh", "door-lock.sh",
                 "watchdog.py", "render_units.py"):
        assert os.access(DEPLOY / name, os.X_OK), name


def test_door_lock_without_pin_tools_relies_on_wiring(tmp_path):
    r = subprocess.run(["/bin/sh", DEPLOY / "door-lock.sh", "17", "high"], capture_output=True,
                       text=True, env={"PATH": str(tmp_path)}, check=False)
    assert r.returncode == 0 and "relying on config.txt and the wiring" in r.stderr
    r = subprocess.run(["/bin/sh", DEPLOY / "door-lock.sh", "17", "open"], capture_output=True,
                       text=True, env={"PATH": str(tmp_path)}, check=False)
    assert r.returncode == 2


class Systemd(threading.Thread):
    """The receiving end of $NOTIFY_SOCKET, read as systemd reads it."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(str(path))
        self.s.settimeout(0.05)
        self.got: list[str] = []
        self.stop = threading.Event()
        self.start()

    def run(self):
        while not self.stop.is_set():
            try:
                self.got.append(self.s.recv(4096).decode())
            except TimeoutError:
                pass

    def take(self) -> list[str]:
        time.sleep(0.2)
        got, self.got = self.got, []
        return got

    def close(self):
        self.stop.set()
        self.join(2)
        self.s.close()


def test_watchdog_pings_while_healthy_and_passes_the_exit_status(tmp_path):
    s = Systemd(tmp_path / "notify")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "150000"}
    r = subprocess.run([sys.executable, DEPLOY / "watchdog.py", "--", sys.executable, "-c",
                        "import time, sys; time.sleep(0.6); sys.exit(3)"], env=env, timeout=20, check=False)
    assert r.returncode == 3
    got = s.take()
    assert got[0] == "READY=1" and got.count("WATCHDOG=1") >= 3 and got[-1] == "STOPPING=1"
    # A health URL that does not answer: no READY, no pings (systemd would kill it).
    r = subprocess.run([sys.executable, DEPLOY / "watchdog.py", "--http",
                        "http://127.0.0.1:9/", "--", sys.executable, "-c",
                        "import time; time.sleep(0.5)"], env=env, timeout=20, check=False)
    got = s.take()
    assert "READY=1" not in got and "WATCHDOG=1" not in got
    s.close()
