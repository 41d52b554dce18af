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
    units = render(tmp_path / "b", RELAY_LOCKED_LEVEL="low", RELAY_PIN=5, RELAY_CHIP=4)
    assert "door-lock.sh 5 low 4" in unit(units, "gatehouse-door-lock.service")
    assert "ExecStopPost=+" in unit(units, "gatehouse-kiosk.service")
    assert "door-lock.sh 5 low 4" in unit(units, "gatehouse-kiosk.service")


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def test_kiosk_unit_runs_kiosk_itself_and_locks_after_any_exit(tmp_path):
    d = directives(unit(render(tmp_path), "gatehouse-kiosk.service"))
    # `kiosk run` is the main process (no wrapper): it sends READY and WATCHDOG itself,
    # and ExecStopPost= runs when it dies, however (SIGKILL and watchdog kills too).
    assert d["ExecStart"] == [f"{Path(sys.executable).parent}/kiosk run --web-port 8000"]
    assert "watchdog.py" not in "".join(d["ExecStart"])
    for key, value in {"Type": "notify", "NotifyAccess": "main", "WatchdogSec": "10",
                       "TimeoutStartSec": "120", "Restart": "always", "RestartSec": "1",
                       "RuntimeDirectory": "gatehouse-kiosk"}.items():
        assert d[key] == [value], key
    # lgpio's FIFO goes to $LG_WD, else the working directory: both writable.
    assert "LG_WD=/run/gatehouse-kiosk" in d["Environment"]
    assert d["WorkingDirectory"] == [str(tmp_path / "home")]
    assert d["ReadWritePaths"] == [str(tmp_path / "home")]
    # As root ("+"): pinctrl needs it; the active-low default drives the line high.
    assert d["ExecStopPost"] == [f"+{ROOT}/deploy/door-lock.sh 17 high 0"]
    # Not started before enrollment (no hub key: `kiosk run` exits, Restart= would loop).
    assert d["ConditionPathExists"] == [f"|{tmp_path}/home/kiosk/hub.pub",
                                        f"|{tmp_path}/home/hub/hub.pub"]
    hub = directives(unit(render(tmp_path / "h"), "gatehouse-hub.service"))
    assert hub["ExecStart"] == [f"{Path(sys.executable).parent}/hub serve"]
    assert hub["Type"] == ["notify"] and hub["NotifyAccess"] == ["main"]


def fake_tools(folder: Path, *names: str) -> Path:
    """Stand-ins for pinctrl, gpioset...: each writes its name and arguments to calls."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        tool = folder / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> {folder}/calls\n')
        tool.chmod(0o755)
    for name in ("tr", "grep"):
        (folder / name).symlink_to(shutil.which(name))
    return folder


def door_lock(tools: Path, *args: str, **env: str) -> list[str]:
    r = subprocess.run(["/bin/sh", DEPLOY / "door-lock.sh", *args], capture_output=True,
                       text=True, env={"PATH": str(tools), **env}, check=True)
    assert "relay off, door locked" in r.stdout
    calls = (tools / "calls").read_text().splitlines()
    (tools / "calls").unlink()
    return calls


def test_door_lock_uses_pinctrl_else_gpioset_else_raspi_gpio(tmp_path):
    both = fake_tools(tmp_path / "a", "pinctrl", "gpioset", "raspi-gpio")
    assert door_lock(both, "17", "high") == ["pinctrl set 17 op dh"]
    assert door_lock(both, "5", "low") == ["pinctrl set 5 op dl"]
    # Debian's gpiod (libgpiod v1): set and exit; the chip from the argument or $RELAY_CHIP.
    gpiod = fake_tools(tmp_path / "b", "gpioset", "raspi-gpio")
    chip = tmp_path / "gpiochip9"   # a chip given by its path stands in for /dev/gpiochipN
    chip.touch()
    assert door_lock(gpiod, "17", "high", str(chip)) == [f"gpioset --mode=exit {chip} 17=1"]
    assert door_lock(gpiod, "17", "low", RELAY_CHIP=str(chip)) == [
        f"gpioset --mode=exit {chip} 17=0"]
    # No such chip (a mock-pin gate): nothing driven, and no failure that would keep
    # the kiosk (Requires=gatehouse-door-lock) from starting.
    r = subprocess.run(["/bin/sh", DEPLOY / "door-lock.sh", "17", "high", "63"],
                       capture_output=True, text=True, env={"PATH": str(gpiod)}, check=False)
    assert r.returncode == 0 and "no /dev/gpiochip63" in r.stderr
    assert not (gpiod / "calls").exists()
    old = fake_tools(tmp_path / "c", "raspi-gpio")
    assert door_lock(old, "17", "high") == ["raspi-gpio set 17 op dh"]


def test_install_scripts_parse():
    for name in ("lib.sh", "install-hub.sh", "install-kiosk.sh", "upgrade.sh", "door-lock.sh"):
        r = subprocess.run(["sh", "-n", DEPLOY / name], capture_output=True, text=True, check=False)
        assert r.returncode == 0, (name, r.stderr)
    for name in ("install-hub.sh", "install-kiosk.sh", "upgrade.sh", "door-lock.sh",
                 "watchdog.py", "render_units.py", "kiosk_config.py", "enroll.py"):
        assert os.access(DEPLOY / name, os.X_OK), name


def test_door_lock_without_pin_tools_relies_on_wiring(tmp_path):
    r = subprocess.run(["/bin/sh", DEPLOY / "door-lock.sh", "17", "high"], capture_output=True,
                       text=True, env={"PATH": str(tmp_path)}, check=False)
    assert r.returncode == 0 and "only config.txt and the wiring" in r.stderr
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
                message = self.s.recv(4096).decode()
            except TimeoutError:
                continue
            # Not `self.got.append(self.s.recv(...))`: that binds the list before recv
            # waits, and a take() meanwhile would lose the message into the old list.
            self.got.append(message)

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
