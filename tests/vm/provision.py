"""A hub and a gate on one VM, set up the way a technician would: the project's own
deploy/install-hub.sh and deploy/install-kiosk.sh, offline from the wheelhouse, then
enrolled with the hub's one-time code. Plus the few things only the test adds (a probe of
the relay line at every kiosk start, the camera folder), each said where it is done.
"""
from __future__ import annotations

import shlex
import time

from tests.vm.machine import Machine

HOME = "/var/lib/gatehouse"
VENV = "/opt/gatehouse/.venv"
RELAY = 17
LOCKED, UNLOCKED = 1, 0        # an active-low relay board (RELAY_ACTIVE_HIGH=0, the default)
FRAMES = f"{HOME}/vm-frames"   # the file camera's folder
GATE_ID = "gate-vm"
PROBE_LOG = "/var/lib/gatehouse-vm/probe.log"

# The test's only addition to the kiosk unit: a root ExecStartPre that writes down the
# relay line's level each time systemd starts the kiosk (boot, restart after kill, after
# the watchdog), so "locked before the kiosk starts" is read from the kernel, not inferred.
PROBE = f"""#!/bin/sh
mkdir -p /var/lib/gatehouse-vm
echo "$(cat /proc/sys/kernel/random/boot_id) $(cut -d' ' -f1 /proc/uptime) $(cat /run/gpio-sim/sim_gpio{RELAY}/value)" >> {PROBE_LOG}
"""

# Why the clock is trusted by setting: hub and gate share this machine, whose chrony
# serves its own clock ("local stratum 10") and so never tells the kernel it is
# synchronised; the kiosk would then refer every attempt. On a real gate, chrony or
# timesyncd following the hub does.
DROPIN = """[Service]
Environment=GATEHOUSE_KIOSK_CLOCK=trusted
ExecStartPre=+/usr/local/sbin/gatehouse-vm-probe
"""


def install(vm: Machine, log=print) -> dict[str, float]:
    """Run both installers in the VM; returns the seconds each step took."""
    took: dict[str, float] = {}
    env = "HUB_IP=127.0.0.1 WHEELHOUSE=/mnt/wheels"

    t = time.monotonic()
    r = vm.run(f"cd /mnt/project && {env} COMPOUND=虚拟机小区 ADMIN_PASSWORD=vm-admin-pass "
               "sh deploy/install-hub.sh </dev/null", timeout=1200)
    took["install-hub.sh"] = time.monotonic() - t
    _save(vm, "install-hub.log", r)
    if not r.ok:
        raise AssertionError(f"deploy/install-hub.sh failed in the VM ({r.rc}):\n"
                             f"{r.out[-2500:]}\n{r.err[-2500:]}")
    log(f"install-hub.sh: {took['install-hub.sh']:.0f} s")

    # The hub's web page serves /enroll: wait for it (the unit may still be starting).
    hub = f"runuser -u gatehouse -- env GATEHOUSE_HOME={HOME} {VENV}/bin/hub"
    code = vm.sh(f"{hub} gate enroll {GATE_ID} --hub-url http://127.0.0.1:8080", timeout=120)
    code = code.strip().splitlines()[0]

    # The camera folder exists from the start with an empty scene (nobody at the door).
    vm.sh(f"install -d -o gatehouse -g gatehouse {FRAMES} && "
          f"install -o gatehouse -m 0644 /mnt/run/frames/empty/*.png {FRAMES}/")
    t = time.monotonic()
    r = vm.run(f"cd /mnt/project && {env} PIN_FACTORY=lgpio RELAY_CHIP=0 SCREEN=0 "
               f"CAMERA={shlex.quote(camera_spec())} ENROLL_CODE={shlex.quote(code)} "
               "ENROLL_WAIT=120 sh deploy/install-kiosk.sh </dev/null", timeout=1500)
    took["install-kiosk.sh"] = time.monotonic() - t
    _save(vm, "install-kiosk.log", r)
    if not r.ok:
        raise AssertionError(f"deploy/install-kiosk.sh failed in the VM ({r.rc}):\n"
                             f"{r.out[-2500:]}\n{r.err[-2500:]}")
    log(f"install-kiosk.sh: {took['install-kiosk.sh']:.0f} s")

    vm.put("/usr/local/sbin/gatehouse-vm-probe", PROBE, mode="0755")
    vm.put("/etc/systemd/system/gatehouse-kiosk.service.d/zz-vm-test.conf", DROPIN)
    vm.sh("systemctl daemon-reload")
    return took


def camera_spec(fps: float = 4) -> str:
    return f"file:{FRAMES}?fps={fps:g}&loop=1"


def _save(vm: Machine, name: str, r) -> None:
    (vm.run_dir / name).write_text(f"rc={r.rc}\n{r.out}\n--- stderr ---\n{r.err}")
