"""Debian packages the heavy tests install on the host, one apt-get at a time.

The VM test and the aarch64 test run on different xdist workers and, on a fresh machine,
both install their tools at the start: a second apt-get found dpkg's lock taken and the
aarch64 test skipped (a fresh-clone run, session 9). Our own installs take a file lock
in turn, and apt-get waits for dpkg's lock (held by anything else, e.g. unattended
upgrades) instead of failing at once."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

LOCK = Path("/tmp/gatehouse-apt.lock")
WAIT_S = 900  # apt-get's own wait for dpkg's lock


def apt_install(packages: list[str]) -> str | None:
    """Install `packages` (as root); returns why not, or None. `apt-get update` first only
    when the plain install fails (a fresh machine's lists may be missing or stale)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", f"DPkg::Lock::Timeout={WAIT_S}"]
    install = ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", *packages]
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        if _run(install, env).returncode == 0:
            return None
        _run(["apt-get", *wait, "update", "-q"], env)
        proc = _run(install, env)
    if proc.returncode != 0:
        return f"{' '.join(install)} failed: {(proc.stdout + proc.stderr).strip()[-500:]}"
    return None


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
