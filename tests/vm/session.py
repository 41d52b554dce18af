"""Brings up the gate VM for a test run: host tools, the cached base image and wheelhouse,
the cached *installed* layer (the project's install-hub.sh and install-kiosk.sh run once
per install recipe), then a fresh overlay booted with this work tree's code.

Layers (all under the cache folder, none modified by a run):
  image-<key>/base.qcow2          Debian 12 + gpio-sim          key: packages, tests/vm/guest
  image-<key>/installed-<k>.qcow2  after install-hub.sh + install-kiosk.sh
                                  key: base, wheelhouse, deploy/**, provision.py, pyproject.toml
                                  ([project] without the test extra; installed_project)
  <run>/overlay.qcow2             this run; deleted afterwards
The installers run in full whenever deploy/ or the lock files change. When only the
project's Python code changed, the run installs this tree's wheel over the installed
layer the way install_app does (pip --no-index --no-deps --force-reinstall), so every run
tests the current code without 10 minutes of emulated pip.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from gatehouse.processes import wait_until
from tests.vm import image as image_mod
from tests.vm import provision, wheels
from tests.vm.machine import Machine

ROOT = Path(__file__).resolve().parents[2]


class CannotRun(Exception):
    """The VM test cannot run here (said as the skip reason)."""


def installed_key(base: image_mod.Image, wheelhouse: Path) -> str:
    h = hashlib.sha256(f"{base.folder.name} {wheelhouse.name}".encode())
    files = sorted(p for p in (ROOT / "deploy").rglob("*") if p.is_file() and
                   "__pycache__" not in p.parts and not other_lock(p))
    for path in [*files, Path(provision.__file__)]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    h.update(installed_project(ROOT / "pyproject.toml").encode())
    return h.hexdigest()[:16]


# What the VM's installers install and run: deploy/lib.sh's fetch_app/install_app take
# deploy/requirements/<role>.txt for these two roles (the wheelhouse holds the same two,
# wheels.LOCKS), build the project's wheel and install it with --no-deps, then run the
# `hub` and `kiosk` commands. Nothing else of the project is installed or run by them.
ROLES = ("gate", "hub")
INSTALLER_COMMANDS = ("hub", "kiosk")


def other_lock(path: Path) -> bool:
    """A lock file of a service the installers do not install (deploy/requirements/
    district.txt): never read in the VM, so it does not key the installed layer."""
    return path.parent == ROOT / "deploy" / "requirements" and path.stem not in ROLES


def installed_project(pyproject: Path) -> str:
    """What the installers read of pyproject.toml (through the project's wheel): its
    [project] table and the packaging settings, less what no installer uses.

    Left out, with why each cannot change what the VM runs:
    - the test extra and pytest's settings: test tools, never in a gate;
    - any other extra (district): the installers install no extra at all (deps come from
      the gate and hub lock files, the wheel goes in with --no-deps); gate and hub stay
      in, as the extras those locks pin;
    - scripts other than `hub` and `kiosk`, and the package patterns and package data of
      a package named after a left-out extra (district*, district.web): the installers
      never run them, and every run installs this
      tree's wheel over the layer (update_code, --force-reinstall), which brings every
      package and script as they are now. A hub or gate that starts importing such a
      package needs its dependencies in hub.txt or gate.txt, which key the layer.
    Everything else stays in (name, version, dependencies, the `hub`/`kiosk` entry
    points the installers call, the other package patterns, package data): a change
    there re-runs the installers. For today's pyproject.toml the result is the same
    text as before these rules, so the cached layer keeps its key."""
    return installed_settings(tomllib.loads(pyproject.read_text()))


def installed_settings(doc: dict) -> str:
    """installed_project of a parsed pyproject.toml."""
    project = dict(doc.get("project", {}))
    extras = project.get("optional-dependencies", {})
    left_out = {k for k in extras if k not in ROLES}
    project["optional-dependencies"] = {k: v for k, v in extras.items() if k not in left_out}
    if "scripts" in project:
        project["scripts"] = {k: v for k, v in project["scripts"].items()
                              if k in INSTALLER_COMMANDS}
    setuptools = json.loads(json.dumps(doc.get("tool", {}).get("setuptools")))  # to trim
    find = (setuptools or {}).get("packages", {}).get("find")
    if find and "include" in find:
        find["include"] = [pat for pat in find["include"] if pat.rstrip("*.") not in left_out]
    if setuptools and "package-data" in setuptools:
        setuptools["package-data"] = {pkg: files for pkg, files in setuptools["package-data"].items()
                                      if pkg.split(".")[0] not in left_out}
    return json.dumps({"project": project, "setuptools": setuptools}, sort_keys=True)


def reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15)
        return True
    except OSError:
        return False


def index_answers() -> bool:
    """Whether pip's configured index answers (asked through pip, as set up here)."""
    try:
        return subprocess.run([sys.executable, "-m", "pip", "index", "versions", "pip"],
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def preflight(log) -> None:
    if os.environ.get("GATEHOUSE_VM", "1") == "0":
        raise CannotRun("GATEHOUSE_VM=0: the VM test is switched off")
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        raise CannotRun("the VM test needs an x86_64 Linux host")
    if why := image_mod.install_tools(log):
        raise CannotRun(why)
    if missing := wheels.missing_locks():
        raise CannotRun(f"no lock files yet: {', '.join(str(p.relative_to(ROOT)) for p in missing)}")
    cache = image_mod.cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(cache).free < 6 << 30:
        raise CannotRun(f"less than 6 GB free in {cache}")


def base_image(log) -> image_mod.Image:
    img = image_mod.Image(image_mod.cache_root() / f"image-{image_mod.image_key()}")
    if img.ready():
        return img
    if os.geteuid() != 0:
        raise CannotRun("building the VM image needs root (mmdebstrap); none is cached")
    if not image_mod.MIRROR or not reachable(
            f"{image_mod.MIRROR}/dists/{image_mod.SUITE}/Release"):
        raise CannotRun("no VM image cached and the host's Debian mirror does not answer "
                        f"({image_mod.MIRROR or 'none in /etc/apt'})")
    return image_mod.build(log)


def wheelhouse(log) -> Path:
    key = wheels.wheelhouse_key()
    folder = image_mod.cache_root() / f"wheels-{key}"
    if not (folder / "done").exists() and not index_answers():
        raise CannotRun("no wheelhouse cached and pip's package index does not answer")
    return wheels.build(log)


def project_wheel(out: Path) -> Path:
    """This work tree's wheel, built on the host (seconds, not minutes under emulation)."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--disable-pip-version-check", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"building the project's wheel failed:\n{r.stderr[-2000:]}")
    return next(out.glob("gatehouse-*.whl"))


class Session:
    """The booted gate VM of one test module."""

    def __init__(self, log=print):
        self.log = log
        self.timings: dict[str, float] = {}
        self.run_dir = Path(tempfile.mkdtemp(prefix="gatehouse-vm-"))
        self.share = self.run_dir / "share"
        (self.share / "frames" / "empty").mkdir(parents=True)
        # Nobody at the door: a plain grey frame.
        cv2.imwrite(str(self.share / "frames" / "empty" / "000.png"),
                    np.full((480, 640, 3), 200, np.uint8))
        self.vm: Machine | None = None
        self._wheel: Path | None = None

    def _timed(self, name: str, t0: float) -> None:
        self.timings[name] = time.monotonic() - t0
        self.log(f"{name}: {self.timings[name]:.0f} s")

    def up(self) -> Machine:
        preflight(self.log)
        t = time.monotonic()
        base = base_image(self.log)
        wh = wheelhouse(self.log)
        self._timed("image and wheelhouse", t)
        installed = base.folder / f"installed-{installed_key(base, wh)}.qcow2"
        shares = {"project": (ROOT, True), "wheels": (wh, True), "run": (self.share, False)}
        if not installed.exists():
            self._install(base, wh, installed, shares)
        # This run: an overlay on the installed layer.
        self.vm = Machine(base, self.run_dir, shares)
        self.vm.create_overlay(installed)
        # The first boot stops short of the services (basic.target: the GPIO chip, the
        # door-lock service, the agent): update_code installs this tree's code, then
        # starts them, so hub, web and kiosk start once, not with the layer's code first.
        # Meanwhile the host builds the wheel. (The power-cut scene's boot is a full one.)
        with ThreadPoolExecutor(1) as pool:
            wheel = pool.submit(project_wheel, self.share / "wheel")
            t = time.monotonic()
            self.vm.start(target="basic.target")
            self.vm.wait_boot(timeout=420)   # a limit for a hung VM, as the power cut's
            self._timed("boot to basic.target", t)
            self._wheel = wheel.result()
        return self.vm

    def update_code(self) -> None:
        """This tree's code into the installed gate and hub (see the module's docstring).
        In the first boot (basic.target) nothing of the project's runs yet: start_services
        then starts it on this code."""
        t = time.monotonic()
        wheel = self._wheel or project_wheel(self.share / "wheel")
        self.vm.sh(f"{provision.VENV}/bin/pip install -q --no-index --no-deps --force-reinstall "
                   f"/mnt/run/wheel/{wheel.name}", timeout=900)
        self._timed("this tree's code into the VM", t)

    def start_services(self) -> None:
        """The rest of the boot: broker, hub, web and kiosk in the order a boot starts them
        (the door-lock service is Before= the kiosk). Not waited for."""
        self.vm.sh("systemctl start --no-block multi-user.target")

    def _install(self, base, wh, installed: Path, shares) -> None:
        """Run the installers once on a fresh overlay of the base; keep the result."""
        work = self.run_dir / "install"
        work.mkdir()
        vm = Machine(base, work, {**shares, "run": (self.share, False)})
        vm.create_overlay()
        t = time.monotonic()
        vm.start()
        try:
            vm.wait_boot()
            self.timings.update(provision.install(vm, self.log))
            vm.run("systemctl poweroff", timeout=10)
            wait_until(lambda: not vm.qemu.running(), 180, every=1,
                       message="the VM to power off after the installers")
        except BaseException:
            for name in ("install-hub.log", "install-kiosk.log", "console.log"):
                if (work / name).exists():
                    shutil.copy(work / name, self.run_dir / name)
            vm.stop()
            raise
        vm.stop()
        tmp = installed.with_suffix(".partial")
        shutil.move(vm.overlay, tmp)
        os.chmod(tmp, 0o444)
        tmp.rename(installed)
        for old in base.folder.glob("installed-*.qcow2"):
            if old != installed:
                old.unlink(missing_ok=True)
        self._timed("installers (cold)", t)

    def down(self, keep: bool = False) -> None:
        """Power off; the run's folder goes too unless kept (GATEHOUSE_VM_KEEP=1) for a look."""
        if self.vm:
            self.vm.stop()
        if keep:
            self.log(f"kept for a look: {self.run_dir}")
        else:
            shutil.rmtree(self.run_dir, ignore_errors=True)
