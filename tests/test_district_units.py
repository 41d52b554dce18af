"""The district's systemd units (district/systemd/, written by `district units`): they
pass `systemd-analyze verify`, are hardened like the hub's, and `district run` speaks
Type=notify as they expect: READY=1 once everything runs, WATCHDOG=1 from its loop,
STOPPING=1 on SIGTERM, and status 1 when its broker node dies (Restart= then starts it
all again)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from district.cli import main
from district.units import UNITS
from gatehouse.processes import Process, wait_until
from tests.test_deploy_units import directives

pytest_plugins = ["tests.district_fixtures"]
ROOT = Path(__file__).resolve().parent.parent
# A system user that exists on Debian and is not root (PostgreSQL refuses root).
RUN_AS = "daemon"


def render(out: Path, *extra: str) -> dict[str, str]:
    result = CliRunner().invoke(main, ["units", "--out", str(out), "--home", "/srv/district",
                                       "--user", RUN_AS, "--app", str(ROOT),
                                       "--venv", sys.prefix, *extra])
    assert result.exit_code == 0, result.output
    return {name: (out / name).read_text() for name in UNITS}


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (scripts/test installs systemd)")
    render(tmp_path)
    r = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
                       capture_output=True, text=True, timeout=60, check=False)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert r.returncode == 0 and problems == [], problems
    # A unit that could not start is found: the check can fail.
    broken = tmp_path / "broken"
    render(broken, "--venv", "/nonexistent")
    r = subprocess.run(["systemd-analyze", "verify", str(broken / UNITS[0])],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode != 0 or "/nonexistent" in r.stdout + r.stderr


def test_the_units_are_hardened_like_the_hubs_and_never_run_as_root(tmp_path):
    units = render(tmp_path, "--web-port", "8091")
    for name, text in units.items():
        d = directives(text)
        assert "@" not in text, name
        assert d["Type"] == ["notify"] and d["Restart"] == ["always"] and d["WatchdogSec"]
        assert d["User"] == [RUN_AS] and d["Group"] == [RUN_AS]
        assert d["Environment"] == ["GATEHOUSE_DISTRICT_HOME=/srv/district"]
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "read-only"), ("ReadWritePaths", "/srv/district"),
                           ("PrivateTmp", "yes")):
            assert d[key] == [value], (name, key)
    run = directives(units["gatehouse-district.service"])
    assert run["ExecStart"] == [f"{sys.prefix}/bin/district run"]
    assert run["KillMode"] == ["mixed"]        # its own orderly stop: workers, node, cluster
    web = directives(units["gatehouse-district-web.service"])
    assert "--port 8091" in web["ExecStart"][0] and "/login" in web["ExecStart"][0]
    assert "After" in web and "gatehouse-district.service" in web["After"][0]
    refused = CliRunner().invoke(main, ["units", "--out", str(tmp_path / "r"), "--user", "root"])
    assert refused.exit_code != 0 and "root" in refused.output


class NotifySocket:
    """systemd's end of $NOTIFY_SOCKET: the datagrams a Type=notify service sends."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.got: list[str] = []

    def read(self) -> list[str]:
        try:
            while True:
                self.got.append(self.sock.recv(4096).decode())
        except (TimeoutError, BlockingIOError, socket.timeout):
            pass
        return self.got

    def said(self, line: str) -> bool:
        return any(line in m.splitlines() for m in self.read())

    def close(self) -> None:
        self.sock.close()


def test_district_run_speaks_type_notify_and_stops_when_its_broker_dies(district_home,
                                                                        tmp_path):
    sd = NotifySocket(tmp_path / "notify")
    run = Process([sys.executable, "-m", "district.cli", "run", "--home",
                   str(district_home.root)], tmp_path / "run.log",
                  {"NOTIFY_SOCKET": sd.path}).start()
    try:
        wait_until(lambda: sd.said("READY=1") or not run.running(), 120,
                   message="READY=1 from district run")
        assert run.running(), run.tail()
        assert "ready" in run.output()       # said once everything runs
        wait_until(lambda: sd.said("WATCHDOG=1"), 20, message="the watchdog ping")
        # Its broker node killed: district run stops with status 1, in order.
        pid = int((district_home.nats / "nats.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not run.running(), 60, message="district run to exit")
        assert run.stop() == 1
        assert "nats-server exited" in run.output()
        assert sd.said("STOPPING=1")
        # Started again (as Restart= would): up again, and a SIGTERM is a clean stop.
        run = Process([sys.executable, "-m", "district.cli", "run", "--home",
                       str(district_home.root)], tmp_path / "run2.log",
                      {"NOTIFY_SOCKET": sd.path}).start()
        sd.got.clear()
        wait_until(lambda: sd.said("READY=1") or not run.running(), 120,
                   message="READY=1 again")
        assert run.running(), run.tail()
    finally:
        code = run.stop(signal.SIGTERM, timeout=60)
        stopping = sd.said("STOPPING=1")
        sd.close()
    assert code == 0, run.tail()
    assert stopping
