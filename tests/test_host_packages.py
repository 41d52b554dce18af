"""The heavy tests' host installs wait for dpkg's lock instead of skipping.

Reproduces a fresh-clone run (session 9): the VM test's apt-get held dpkg's lock while the
aarch64 test's apt-get started, failed at once ("Could not get lock
/var/lib/dpkg/lock-frontend") and the aarch64 test skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.host_packages import apt_install

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("apt-get") or not os.path.exists("/var/lib/dpkg/lock-frontend"),
    reason="needs root on a Debian-like host (apt-get, dpkg's lock)")

# What apt itself does: an fcntl write lock on dpkg's frontend lock, held for a while.
HOLD = """
import fcntl, sys, time
f = open("/var/lib/dpkg/lock-frontend", "w")
fcntl.lockf(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[1]))
"""


def test_an_install_waits_while_another_apt_holds_dpkgs_lock():
    with subprocess.Popen([sys.executable, "-c", HOLD, "3"], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline().strip() == "held"
            started = time.monotonic()
            why = apt_install(["coreutils"])  # installed already: only the lock is at stake
            waited = time.monotonic() - started
        finally:
            holder.kill()
    assert why is None, why
    assert waited >= 2.0, f"apt_install returned after {waited:.1f} s, while dpkg's lock was held for 3 s"
