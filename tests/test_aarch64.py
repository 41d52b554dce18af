"""The gate's lock installs on aarch64 (Python 3.11) and the decoder reads codes there.

A Raspberry Pi 4 / 5 runs Raspberry Pi OS Bookworm 64-bit: Debian 12, arm64, Python
3.11, glibc 2.36. This test builds that userland as an arm64 Debian 12 chroot
(mmdebstrap) and runs it on this x86-64 machine under qemu-user emulation
(qemu-user-static through binfmt_misc), then:

1. downloads every pin of deploy/requirements/gate.txt as an aarch64 cp311 wheel
   (`pip download --only-binary=:all:`); a pin with no such wheel must be pure
   Python (its sdist is built in the chroot and must give a py3-none-any wheel);
2. in the chroot, Debian's own python3 makes a venv and installs the lock from those
   files alone (`--no-index`, dependencies resolved, so a lock missing a dependency
   fails), then `pip check`;
3. imports every compiled extension the lock brought and the gate's own command
   (kiosk.cli, which pulls in the runner, web, link and GPIO code), and reads a QR
   code and a Code128 label with each decoder of kiosk.scanner.make_decoder.

Emulation proves that the wheels exist, install and run on aarch64; it says nothing
about speed, so this test reports no timings (bench/ is for a real Pi).

Why the platform list is long: pip does not widen `--platform manylinux2014_aarch64`
to newer glibc tags, and several gate wheels carry only those (zxing-cpp 3.x:
manylinux_2_28; lgpio 0.2.2.0: manylinux_2_34). A Bookworm Pi accepts manylinux
tags up to glibc 2.36, so the download asks for exactly those.

Runs as root on Debian/Ubuntu with apt-get (installs qemu-user-static and
mmdebstrap when missing, registers aarch64 with binfmt_misc when it is not), skips
with the reason otherwise; GATEHOUSE_AARCH64=0 skips it. The chroot, the wheels and
the installed venv are cached in /var/cache/gatehouse-aarch64
(GATEHOUSE_AARCH64_CACHE), keyed on what they are made from (the lock's hash for the
wheels and the venv), so a second run only imports and decodes.
GATEHOUSE_AARCH64_LOCK points the test at another lock file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.host_packages import apt_install

ROOT = Path(__file__).resolve().parents[1]
LOCK = Path(os.environ.get("GATEHOUSE_AARCH64_LOCK", ROOT / "deploy" / "requirements" / "gate.txt"))
CACHE = Path(os.environ.get("GATEHOUSE_AARCH64_CACHE", "/var/cache/gatehouse-aarch64"))
SUITE = "bookworm"
# What install-kiosk.sh installs from apt that the gate's venv needs at run time.
CHROOT_PACKAGES = ("python3", "python3-venv", "libzbar0", "ca-certificates")
# Every manylinux tag pip on a Bookworm aarch64 (glibc 2.36) accepts.
PLATFORMS = ["manylinux2014_aarch64"] + [f"manylinux_2_{n}_aarch64" for n in range(17, 37)]
RECIPE = "1"  # bump when the chroot recipe changes without its package list changing

QR_TEXT = "GH1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3"
WAYBILL = "JD0012345678901-1-1-"

pytestmark = pytest.mark.aarch64


def _run(cmd, timeout=1800, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _tail(proc: subprocess.CompletedProcess, lines: int = 25) -> str:
    return "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-lines:])


def _skip_reason() -> str | None:
    if os.environ.get("GATEHOUSE_AARCH64") == "0":
        return "GATEHOUSE_AARCH64=0"
    if sys.platform != "linux":
        return "needs Linux (chroot, binfmt_misc)"
    if os.geteuid() != 0:
        return "needs root (apt-get, mmdebstrap, chroot, binfmt_misc)"
    if not shutil.which("apt-get"):
        return "needs a Debian-like host with apt-get"
    if not LOCK.is_file():
        return f"no lock file at {LOCK}"
    return None


def _dist(filename: str) -> str:
    """The normalised project name of a wheel or sdist file name."""
    name = filename.split("-")[0] if filename.endswith(".whl") else re.sub(r"\.(tar\.gz|zip)$", "", filename).rsplit("-", 1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pin(req: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>!~\[ ]", req, maxsplit=1)[0]).lower()


def _lock_hash() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]


def _ensure_tools() -> None:
    need = {"mmdebstrap": "mmdebstrap", "unshare": "util-linux"}
    if platform.machine() != "aarch64":
        need["qemu-aarch64-static"] = "qemu-user-static"
        # mmdebstrap only recommends it, and refuses a foreign architecture without it (a
        # fresh machine's run skipped this test: "install arch-test for foreign architecture
        # support").
        need["arch-test"] = "arch-test"
    missing = sorted({pkg for tool, pkg in need.items() if not shutil.which(tool)})
    if not missing:
        return
    if why := apt_install(missing):
        pytest.skip(f"could not install {' '.join(missing)}: {why}")


def _ensure_binfmt() -> None:
    """Let the kernel run aarch64 binaries through qemu (binfmt_misc, F flag so chroots work)."""
    if platform.machine() == "aarch64":
        return
    fs = Path("/proc/sys/fs/binfmt_misc")
    entry = fs / "qemu-aarch64"
    if not (fs / "register").exists():
        proc = _run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(fs)])
        if proc.returncode != 0:
            pytest.skip(f"no binfmt_misc here, so no aarch64 emulation: {_tail(proc, 2)}")
    if not entry.exists():
        conf = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
        if not conf.is_file():
            pytest.skip(f"{conf} missing: qemu-user-static does not register aarch64 here")
        try:
            (fs / "register").write_text(conf.read_text().strip())
        except OSError as e:
            pytest.skip(f"cannot register aarch64 with binfmt_misc: {e}")
    if not entry.read_text().startswith("enabled"):
        pytest.skip("binfmt_misc's aarch64 entry is disabled on this machine")


def _chroot(rootfs: Path, script: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run a shell script in the arm64 chroot, with /proc mounted in a private namespace."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    inner = f"mount -t proc proc {rootfs}/proc && exec chroot {rootfs} /bin/sh -ec \"$0\""
    return _run(["unshare", "--mount", "--fork", "/bin/sh", "-c", inner, script], timeout=timeout, env=env)


def _rootfs() -> Path:
    key = hashlib.sha256(f"{SUITE} {' '.join(CHROOT_PACKAGES)} {RECIPE}".encode()).hexdigest()[:16]
    rootfs = CACHE / f"rootfs-{key}"
    if (rootfs / ".complete").exists():
        return rootfs
    for old in CACHE.glob("rootfs-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = CACHE / f"rootfs-{key}.tmp"
    proc = _run(["mmdebstrap", "--arch=arm64", "--variant=minbase", "--quiet",
                 f"--include={','.join(CHROOT_PACKAGES)}", SUITE, str(tmp)])
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"could not build an arm64 {SUITE} chroot (mmdebstrap): {_tail(proc, 5)}")
    tmp.rename(rootfs)
    (rootfs / ".complete").touch()
    return rootfs


def _pip_download(dest: Path, *args: str) -> subprocess.CompletedProcess:
    plats = [a for p in PLATFORMS for a in ("--platform", p)]
    return _run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                 *plats, "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                 "-d", str(dest), *args])


def _requirements() -> list[str]:
    lines = []
    for raw in LOCK.read_text().splitlines():
        line = raw.split("#", 1)[0].strip().rstrip("\\").strip()
        if line and not line.startswith("-"):
            lines.append(line.split(";")[0].split(" --hash")[0].strip())
    return lines


def _wheels() -> tuple[Path, list[str]]:
    """Download the lock for aarch64; return the folder and the pins that came as sdists."""
    wheels = CACHE / f"wheels-{_lock_hash()}"
    done = wheels / ".complete"
    if done.exists():
        return wheels, json.loads(done.read_text())
    for old in CACHE.glob("wheels-*"):
        shutil.rmtree(old, ignore_errors=True)
    wheels.mkdir(parents=True)
    sdists = []
    proc = _pip_download(wheels, "--only-binary=:all:", "-r", str(LOCK))
    if proc.returncode != 0:
        if "No matching distribution" not in proc.stdout + proc.stderr:
            shutil.rmtree(wheels)
            pytest.skip(f"could not reach the package index: {_tail(proc, 3)}")
        for req in _requirements():  # which pins have no aarch64 wheel?
            if _pip_download(wheels, "--only-binary=:all:", req).returncode == 0:
                continue
            proc = _pip_download(wheels, "--no-binary=:all:", req)
            assert proc.returncode == 0, f"{req}: neither an aarch64 cp311 wheel nor an sdist\n{_tail(proc)}"
            sdists.append(req)
    done.write_text(json.dumps(sdists))
    return wheels, sdists


def _install(rootfs: Path, wheels: Path, sdists: list[str]) -> str:
    """Install the lock into a venv in the chroot (cached per lock); return its path there."""
    venv = f"/opt/gate-{_lock_hash()}"
    if (rootfs / venv.lstrip("/") / ".complete").exists():
        return venv
    for old in (rootfs / "opt").glob("gate-*"):
        shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(rootfs / "opt" / "wheels", ignore_errors=True)
    shutil.copytree(wheels, rootfs / "opt" / "wheels")
    shutil.copy(LOCK, rootfs / "opt" / "wheels" / "gate.txt")
    pip = f"{venv}/bin/pip --disable-pip-version-check"
    proc = _chroot(rootfs, f"python3 -m venv {venv}")
    assert proc.returncode == 0, f"python3 -m venv failed on aarch64:\n{_tail(proc)}"
    if sdists:  # pins without an aarch64 wheel: build each here; it must come out pure Python
        logs = []
        # Their build dependencies come from the index: trust what this host trusts.
        ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
        env = ""
        if ca.is_file():
            shutil.copy(ca, rootfs / "opt" / "ca.crt")
            env = "PIP_CERT=/opt/ca.crt "
        for sdist in (rootfs / "opt" / "wheels").iterdir():
            if sdist.name.endswith((".tar.gz", ".zip")):
                proc = _chroot(rootfs, f"{env}{pip} wheel -q --no-deps --use-pep517 -w /opt/wheels "
                                       f"/opt/wheels/{sdist.name}")
                logs.append(f"{sdist.name}: {_tail(proc, 6)}" if proc.returncode else "")
        pure = {_dist(w.name) for w in (rootfs / "opt" / "wheels").glob("*-none-any.whl")}
        compiled = [req for req in sdists if _pin(req) not in pure]
        assert not compiled, (f"no aarch64 wheel, and the sdist does not build to pure Python: {compiled}\n"
                              + "\n".join(filter(None, logs)))
    proc = _chroot(rootfs, f"{pip} install -q --no-index --find-links /opt/wheels -r /opt/wheels/gate.txt\n"
                           f"{pip} check", timeout=2400)
    assert proc.returncode == 0, f"installing the lock on aarch64 failed:\n{_tail(proc, 40)}"
    for whl in (rootfs / "opt" / "wheels").glob("*.whl"):
        if whl.name.endswith("-any.whl"):
            with zipfile.ZipFile(whl) as z:
                compiled = [n for n in z.namelist() if n.endswith(".so")]
            assert not compiled, f"{whl.name} is tagged pure Python but holds {compiled}"
        else:
            assert "aarch64" in whl.name, whl.name
    (rootfs / venv.lstrip("/") / ".complete").touch()
    return venv


PROBE = textwrap.dedent("""
    import importlib, json, os, platform, sys, sysconfig
    from importlib.metadata import version
    from pathlib import Path
    out = {"machine": platform.machine(), "python": platform.python_version(), "ext_errors": {}, "extensions": []}
    site = Path(sysconfig.get_paths()["purelib"])
    for so in sorted(site.rglob("*.so")):
        rel = so.relative_to(site)
        if rel.parts[0].endswith(".libs") or ".dist-info" in rel.parts[0] or "cpython" not in so.name and "abi3" not in so.name:
            continue  # bundled shared libraries, not Python extensions
        parts = rel.parts[:-1] + (so.name.split(".")[0],)
        if any("test" in p for p in parts):
            continue  # libraries' own test helpers (numpy's _umath_tests refuses to load)
        if len(parts) > 1 and parts[-1] == parts[-2]:
            parts = parts[:-1]  # cv2/cv2.abi3.so is loaded by the cv2 package itself
        mod = ".".join(parts)
        try:
            importlib.import_module(mod)
            out["extensions"].append(mod)
        except Exception as e:  # report every one, not only the first
            out["ext_errors"][mod] = f"{type(e).__name__}: {e}"
    import cv2, numpy, zxingcpp
    from gpiozero.pins.lgpio import LGPIOFactory  # imports lgpio's C module
    import kiosk.cli  # the gate's whole command: runner, gate loop, web, link, GPIO
    from kiosk.scanner import make_decoder
    out["versions"] = {d: version(d) for d in ("numpy", "opencv-python-headless", "zxing-cpp", "lgpio")}
    out["reads"] = {}
    for name in ("pipeline", "zxing", "pyzbar"):
        for kind in ("qr", "code128"):
            image = cv2.imread(kind + ".png", cv2.IMREAD_GRAYSCALE)
            out["reads"][name + " " + kind] = [[s.text, s.format] for s in make_decoder(name).decode(image)]
    print("PROBE " + json.dumps(out))
""")


def _images(folder: Path) -> None:
    import cv2
    import numpy as np
    import segno

    from demo import code128

    qr = np.array(list(segno.make_qr(QR_TEXT, error="m").matrix_iter(scale=4, border=4)), bool)
    frame = np.full((480, 640), 255, np.uint8)
    frame[60 : 60 + qr.shape[0], 100 : 100 + qr.shape[1]][qr] = 0
    cv2.imwrite(str(folder / "qr.png"), frame)
    bars = code128.render(WAYBILL, module_px=2, height_px=90)
    frame = np.full((480, 640), 255, np.uint8)
    frame[150 : 150 + bars.shape[0], 40 : 40 + bars.shape[1]] = bars
    cv2.imwrite(str(folder / "code128.png"), frame)


@pytest.fixture(scope="module")
def cache():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as held:  # one run at a time builds or uses the cache
        fcntl.flock(held, fcntl.LOCK_EX)
        yield CACHE


def test_every_pin_of_the_lock_has_an_aarch64_wheel_or_is_pure_python(cache):
    wheels, sdists = _wheels()
    names = {_dist(p.name) for p in wheels.iterdir() if p.name[0] != "."}
    for req in _requirements():
        assert _pin(req) in names, f"{req} was not downloaded"
    for whl in wheels.glob("*.whl"):
        assert whl.name.endswith("-any.whl") or "aarch64" in whl.name, whl.name
    # pins without an aarch64 wheel are checked to be pure Python when built in the chroot
    print(f"sdist-only pins (must be pure Python): {sdists or 'none'}")


def test_the_gate_installs_from_the_lock_and_decodes_on_aarch64(cache):
    _ensure_tools()
    _ensure_binfmt()
    rootfs = _rootfs()
    wheels, sdists = _wheels()
    venv = _install(rootfs, wheels, sdists)
    run = rootfs / "tmp" / f"gatehouse-{os.getpid()}"
    shutil.rmtree(run, ignore_errors=True)
    try:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for package in ("gatehouse", "kiosk"):
            shutil.copytree(ROOT / package, run / package, ignore=ignore)
        _images(run)
        (run / "probe.py").write_text(PROBE)
        inside = f"/tmp/{run.name}"
        proc = _chroot(rootfs, f"cd {inside}\nLG_WD={inside} PYTHONPATH={inside} {venv}/bin/python probe.py",
                       timeout=600)
    finally:
        shutil.rmtree(run, ignore_errors=True)
    assert proc.returncode == 0, _tail(proc, 40)
    out = json.loads(proc.stdout.split("PROBE ", 1)[1])
    assert out["machine"] == "aarch64"
    assert out["python"].startswith("3.11.")
    assert out["ext_errors"] == {}
    assert {"cv2", "_lgpio", "zxingcpp", "numpy.core._multiarray_umath"} <= set(out["extensions"]), out["extensions"]
    for name in ("pipeline", "zxing", "pyzbar"):
        assert out["reads"][f"{name} qr"] == [[QR_TEXT, "qr"]], name
        assert out["reads"][f"{name} code128"] == [[WAYBILL, "code128"]], name
    print(f"aarch64 Python {out['python']}: {out['versions']}; {len(out['extensions'])} extensions imported")
