"""deploy/install-kiosk.sh and lib.sh, piece by piece on this machine (the whole scripts
run in tests/vm): the pins are never simulated unless asked for, a second run with
other pins rewrites every place that holds them, apt runs only for what is missing."""
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def sh(script: str, path: Path | None = None, **env) -> subprocess.CompletedProcess:
    full = {"PATH": f"{path}:{os.environ['PATH']}" if path else os.environ["PATH"], **env}
    return subprocess.run(["sh", "-c", script], cwd=DEPLOY, env=full, capture_output=True,
                          text=True, timeout=60, check=False)


def tools(folder: Path, **scripts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in scripts.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def test_config_txt_block_is_replaced_with_its_comment_on_its_own_line(tmp_path):
    cfg = tmp_path / "config.txt"
    cfg.write_text("dtparam=audio=on\n[pi4]\narm_boost=1\n[all]\n"
                   "gpio=17=op,dh # gatehouse-door-lock\n")     # as older installs wrote it
    for pin, fw in (("17", "dh"), ("17", "dl"), ("5", "dl")):
        r = sh(f". ./lib.sh; firmware_gpio {cfg} {pin} {fw}")
        assert r.returncode == 0, r.stderr
    lines = cfg.read_text().splitlines()
    assert lines[:4] == ["dtparam=audio=on", "[pi4]", "arm_boost=1", "[all]"]
    assert lines[4].startswith("# gatehouse-door-lock:")
    assert lines[5:] == ["[all]", "gpio=5=op,dl"]
    assert not [line for line in lines if line.startswith("gpio") and "#" in line]


def test_a_second_run_with_other_pins_rewrites_the_kiosk_config(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('# my notes\ngate_id = "gate-north"\nweb_port = 8000\ncamera = "v4l2:1"\n\n'
                   '[pins]\nrelay_pin = 17\nrelay_active_high = false\nbuzzer_pin = 5\n\n'
                   '[volunteers]\nover_18 = true\n')
    # What install-kiosk.sh passes on a re-run with RELAY_ACTIVE_HIGH=1 and RELAY_PIN=6.
    subprocess.run([sys.executable, DEPLOY / "kiosk_config.py", cfg, 'pin_factory="lgpio"',
                    "relay_chip=4", "pins.relay_pin=6", "pins.relay_active_high=true"],
                   check=True)
    doc = tomllib.loads(cfg.read_text())
    assert doc["pins"] == {"relay_pin": 6, "relay_active_high": True, "buzzer_pin": 5}
    assert doc["gate_id"] == "gate-north" and doc["camera"] == "v4l2:1"
    assert doc["pin_factory"] == "lgpio" and doc["relay_chip"] == 4
    assert doc["volunteers"] == {"over_18": True}
    assert cfg.read_text().startswith("# my notes\n")
    # A fresh file, and a table that is not there yet.
    new = tmp_path / "new.toml"
    subprocess.run([sys.executable, DEPLOY / "kiosk_config.py", new, 'pin_factory="mock"',
                    "pins.relay_pin=17"], check=True)
    assert tomllib.loads(new.read_text()) == {"pin_factory": "mock", "pins": {"relay_pin": 17}}
    # A broken file is left alone.
    bad = tmp_path / "bad.toml"
    bad.write_text("gate_id = \n")
    r = subprocess.run([sys.executable, DEPLOY / "kiosk_config.py", bad, "relay_chip=0"],
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0 and bad.read_text() == "gate_id = \n"


def kiosk_install(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """install-kiosk.sh as "root" up to its first change: the pin decision comes first."""
    fake = tools(tmp_path / "bin", id="echo 0",
                 **{"apt-get": "echo APT-GET-RAN; exit 9", "sed": "echo SED-RAN; exit 9"})
    return subprocess.run(["sh", DEPLOY / "install-kiosk.sh"], capture_output=True, text=True,
                          env={"PATH": f"{fake}:/usr/bin:/bin", "HUB_IP": "127.0.0.1", **env},
                          timeout=60, check=False)


def test_no_silent_mock_pins(tmp_path):
    if Path("/proc/device-tree/model").exists():
        return  # a Pi: lgpio is its default
    r = kiosk_install(tmp_path)
    assert r.returncode == 1
    assert "not a Raspberry Pi" in r.stderr and "PIN_FACTORY=mock" in r.stderr
    assert "RAN" not in r.stdout + r.stderr                 # refused before any change
    r = kiosk_install(tmp_path, PIN_FACTORY="lgpio", RELAY_CHIP="63")
    assert r.returncode == 1 and "no /dev/gpiochip63" in r.stderr
    assert "RAN" not in r.stdout + r.stderr
    r = kiosk_install(tmp_path, PIN_FACTORY="native")
    assert r.returncode == 1 and "lgpio (real pins) or mock" in r.stderr
    # Asked for by name: said loudly, and the install goes on (into the fake sed here).
    r = kiosk_install(tmp_path, PIN_FACTORY="mock")
    assert "SIMULATED PINS" in r.stderr


def test_apt_only_for_what_is_missing(tmp_path):
    installed = "python3 chrony"
    fake = tools(tmp_path / "bin",
                 **{"dpkg-query": f'case " {installed} " in *" $3 "*) echo "install ok installed";; esac',
                    "apt-get": f'echo "apt-get $*" >> {tmp_path}/apt'})
    r = sh(". ./lib.sh; apt_install python3 chrony", fake)
    assert r.returncode == 0 and "all present" in r.stdout
    assert not (tmp_path / "apt").exists()                 # no update: works offline
    r = sh(". ./lib.sh; apt_install python3 gpiod chrony cage", fake)
    assert r.returncode == 0, r.stderr
    calls = (tmp_path / "apt").read_text().splitlines()
    assert calls[0].startswith("apt-get update")
    assert calls[1].endswith("install -y -q --no-install-recommends gpiod cage")


def test_pip_uses_only_the_wheelhouse_when_given():
    assert sh(". ./lib.sh; pip_from").stdout == ""
    r = sh(". ./lib.sh; pip_from", WHEELHOUSE="http://hub:8080/wheels/")
    assert r.stdout.split() == ["--no-index", "--find-links", "http://hub:8080/wheels/"]


def test_32_bit_is_refused_by_name(tmp_path):
    fake = tools(tmp_path / "bin", uname="echo armv7l")
    r = sh(". ./lib.sh; os_check", fake)
    assert r.returncode == 1 and "64-bit" in r.stderr
    assert shutil.which("sh")


def test_upgrade_fetches_everything_before_it_stops_anything(tmp_path):
    """upgrade.sh on a hub: pip's downloads and the project's build come first; a failed
    download leaves every service running."""
    if Path("/etc/systemd/system/gatehouse-kiosk.service").exists():
        pytest.skip("this machine is a gate: upgrade.sh would take it for one")
    log = tmp_path / "calls"
    app, home = tmp_path / "app", tmp_path / "home"
    (home / "hub").mkdir(parents=True)
    (home / "hub" / "hub.db").touch()
    (app / ".venv" / "bin").mkdir(parents=True)
    for name in ("pip", "python", "hub"):
        tool = app / ".venv" / "bin" / name
        tool.write_text(f'#!/bin/sh\necho "{name} $1" >> {log}\n'
                        f'[ "{name} $1" != "pip $FAIL" ]\n')
        tool.chmod(0o755)
    fake = tools(tmp_path / "bin", id="echo 0",
                 systemctl=f'echo "systemctl $*" >> {log}',
                 runuser='shift 3; "$@"')     # runuser -u USER -- CMD...: just CMD here

    def upgrade(**env):
        return subprocess.run(["sh", DEPLOY / "upgrade.sh"], capture_output=True, text=True,
                              env={"PATH": f"{fake}:{os.environ['PATH']}", "APP": str(app),
                                   "GH_HOME": str(home), "STAGE": str(tmp_path / "stage"),
                                   "WHEELHOUSE": "/nowhere", **env},
                              timeout=120, check=False)
    r = upgrade(FAIL="download")
    assert r.returncode != 0
    calls = [c for c in log.read_text().splitlines() if not c.startswith("systemctl -q")]
    assert calls == ["pip wheel", "pip download"]                          # no stop
    log.unlink()
    r = upgrade()
    assert r.returncode == 0, r.stderr
    calls = [c for c in log.read_text().splitlines() if not c.startswith("systemctl -q")]
    assert calls[:3] == ["pip wheel", "pip download",
                         "systemctl stop gatehouse-web.service gatehouse-hub.service"]
    assert calls.index("pip install") > calls.index("hub backup")
    assert calls[-1] == "systemctl start gatehouse-hub.service gatehouse-web.service"
    assert (app / "deploy" / "upgrade.sh").exists()      # the new checkout's files
