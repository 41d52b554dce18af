"""The wheelhouse the VM installs from: every wheel the gate and the hub pin in
deploy/requirements/*.txt, for CPython 3.11 on x86_64 (the VM's Debian 12), fetched from
PyPI by the host once and cached, keyed on the lock files. The VM has no network: like a
gate behind a hub with no internet, it installs with WHEELHOUSE=<this folder>.

The project's own wheel is not here: install-*.sh builds it inside the VM from the
project's files (what a technician's checkout gives), so what is tested is the work tree.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from tests.vm.image import cache_root, locked

ROOT = Path(__file__).resolve().parents[2]
LOCKS = [ROOT / "deploy" / "requirements" / "gate.txt", ROOT / "deploy" / "requirements" / "hub.txt"]
# Wheels for the VM, whatever Python runs the tests: Debian 12 has CPython 3.11, glibc 2.36.
TARGET = ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
          "--abi", "abi3", "--abi", "none",
          "--platform", "manylinux_2_36_x86_64", "--platform", "manylinux_2_34_x86_64",
          "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
          "--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64",
          "--platform", "any"]


def missing_locks() -> list[Path]:
    return [p for p in LOCKS if not p.exists()]


def wheelhouse_key() -> str:
    h = hashlib.sha256(repr(TARGET).encode())
    for path in LOCKS:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build(log=print) -> Path:
    """The cached wheelhouse for the current lock files, downloaded first when missing."""
    root = cache_root()
    folder = root / f"wheels-{wheelhouse_key()}"
    if (folder / "done").exists():
        return folder
    with locked(root / "wheels.lock"):
        if (folder / "done").exists():
            return folder
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        log("downloading the VM's wheelhouse from PyPI")
        for lock in LOCKS:
            # --no-deps: the lock files list every package; a resolver's pick is not wanted
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                   "--no-deps", "--only-binary=:all:", *TARGET, "-d", str(partial), "-r", str(lock)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"pip download for the VM failed:\n{r.stderr[-3000:]}")
        (partial / "done").write_text("\n".join(sorted(p.name for p in partial.glob("*.whl"))))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
        for old in root.glob("wheels-*"):
            if old != folder and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    return folder
