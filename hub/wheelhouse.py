"""The hub's wheelhouse: every wheel a gate (or a second hub) installs, kept on the hub
so gates install and upgrade without the internet (docs/deploy.md).

`hub wheelhouse build`, run while the hub has internet, downloads the exact versions of
deploy/requirements/gate.txt and hub.txt for Python 3.11 on aarch64 (Raspberry Pi OS
64-bit) and x86_64, and builds the project's own wheel, into <home>/hub/wheels. The
admin page serves that folder read-only at /wheels/ (hub/web/wheels.py); a gate then
installs with `WHEELHOUSE=http://<hub>:8080/wheels/ ./deploy/install-kiosk.sh`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from gatehouse.cli_common import fail, home_option, resolve_home
from gatehouse.home import Home

PYTHON = "3.11"                     # Debian 12 and Raspberry Pi OS Bookworm
ARCHES = ("aarch64", "x86_64")
ROLES = ("gate", "hub")
APP = Path("/opt/gatehouse")        # where install-*.sh put the project


def wheelhouse_dir(home: Home) -> Path:
    return home.hub / "wheels"


def platforms(arch: str) -> list[str]:
    """pip matches --platform exactly: name every manylinux tag Bookworm's glibc (2.36)
    runs (lgpio's wheels are manylinux_2_34, numpy's manylinux2014...)."""
    return [f"manylinux_2_{n}_{arch}" for n in range(36, 16, -1)] + [f"manylinux2014_{arch}"]


def find_project(given: str | None = None) -> Path:
    """The project's source folder: given, $GATEHOUSE_APP, /opt/gatehouse, or this
    checkout (when run from one)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in ([given] if given else [os.environ.get("GATEHOUSE_APP"), APP, here]):
        if candidate and (Path(candidate) / "deploy" / "requirements" / "gate.txt").is_file():
            return Path(candidate)
    raise FileNotFoundError(f"no deploy/requirements/gate.txt in {given or 'the usual places'}:"
                            " give --project (the project's folder)")


def _not_source(folder: str, names: list[str]) -> set[str]:
    """What the copy of the project leaves out: build leftovers, the venv, and anything
    that is not a plain file or folder (lgpio's FIFOs)."""
    skip = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                  "node_modules")(folder, names)
    return skip | {n for n in names
                   if not (os.path.isfile(os.path.join(folder, n)) or
                           os.path.isdir(os.path.join(folder, n)))}


def commands(project: Path, dest: Path, arches=ARCHES, pip=(sys.executable, "-m", "pip"),
             build_dir: Path | None = None) -> list[list[str]]:
    """The pip runs that fill `dest` (each file is downloaded once, then kept)."""
    out = []
    for arch in arches:
        for role in ROLES:
            cmd = [*pip, "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--python-version", PYTHON, "--implementation", "cp",
                   "--dest", str(dest), "-r", str(project / "deploy" / "requirements" /
                                                   f"{role}.txt")]
            for tag in platforms(arch):
                cmd += ["--platform", tag]
            out.append(cmd)
    out.append([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest),
                str(build_dir or project)])
    return out


def build(project: Path, dest: Path, arches=ARCHES,
          run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[str]:
    """Fill `dest`; returns the names of the files in it. The project is built from a
    copy (its folder may be read-only to this user; no stale build/ leftovers)."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("gatehouse-*.whl"):   # same version number, new code
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="gatehouse-src-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(project, src, ignore=_not_source)
        for cmd in commands(project, dest, arches, build_dir=src):
            run(cmd, check=True)
    return sorted(p.name for p in dest.iterdir() if p.is_file())


@click.group("wheelhouse")
def wheelhouse_group() -> None:
    """The wheels gates install from without the internet (served at /wheels/)."""


@wheelhouse_group.command("build")
@home_option
@click.option("--project", default=None, help="The project's folder (default /opt/gatehouse).")
@click.option("--arch", "arches", multiple=True, type=click.Choice(ARCHES),
              help="Only these machines (default: aarch64 and x86_64).")
def build_cmd(home, project, arches) -> None:
    """Download the gate's and hub's pinned wheels (Python 3.11, aarch64 and x86_64) and
    build the project's own, into <home>/hub/wheels. Needs the internet, once."""
    h = resolve_home(home)
    try:
        folder = find_project(project)
    except FileNotFoundError as exc:
        fail(str(exc))
    dest = wheelhouse_dir(h)
    try:
        names = build(folder, dest, arches or ARCHES)
    except subprocess.CalledProcessError as exc:
        fail(f"pip failed ({exc.returncode}): is the internet reachable from the hub?")
    size = sum((dest / n).stat().st_size for n in names) / 1e6
    click.echo(f"{len(names)} files, {size:.0f} MB in {dest}; gates install with "
               "WHEELHOUSE=http://<hub>:<web port>/wheels/")


if __name__ == "__main__":   # python -m hub.wheelhouse build
    wheelhouse_group()
