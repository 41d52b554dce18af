"""The VM's base image: Debian 12 built by mmdebstrap from Debian's packages only, with
the gpio-sim module (Pi-like persistence) built inside it for its own kernel.

It is cached under the cache folder, keyed on a hash of everything that goes into it
(package list, mirror, the files in tests/vm/guest/), and never modified by a run: each
run boots a qcow2 overlay on top of it (machine.py). A build takes ~1-2 minutes with a
good mirror; a cached image costs nothing.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.host_packages import apt_install

GUEST = Path(__file__).parent / "guest"
SUITE = "bookworm"


def host_mirrors() -> tuple[str, str]:
    """Debian's archive and security URIs as this machine's apt is set up: the image comes
    from wherever the host's own packages come from (one-line and deb822 sources)."""
    main = security = ""
    apt = Path("/etc/apt")
    for f in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list")),
              *sorted((apt / "sources.list.d").glob("*.sources"))]:
        try:
            text = f.read_text()
        except OSError:
            continue
        entries = []
        if f.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = dict(ln.split(":", 1) for ln in stanza.splitlines()
                              if ":" in ln and not ln.startswith(("#", " ")))
                if "deb" in fields.get("Types", "").split():
                    entries += [(u, s) for u in fields.get("URIs", "").split()
                                for s in fields.get("Suites", "").split()]
        else:
            for ln in text.splitlines():
                words = [w for w in ln.split() if not w.startswith("[")] if ln.startswith("deb ") \
                    else []
                if len(words) >= 3 and "]" not in words[1]:
                    entries.append((words[1], words[2]))
        for uri, suite in entries:
            if suite == f"{SUITE}-security":
                security = security or uri.strip()
            elif suite == SUITE:
                main = main or uri.strip()
    return main, security


MIRROR = os.environ.get("GATEHOUSE_VM_MIRROR") or host_mirrors()[0]
SECURITY = os.environ.get("GATEHOUSE_VM_SECURITY_MIRROR") or host_mirrors()[1]

# What a gate and a hub on Raspberry Pi OS / Debian 12 get from apt (install-kiosk.sh and
# install-hub.sh list these: baked in so the installers find them present and the VM
# never needs the internet), plus what the VM itself needs.
PACKAGES = [
    # a booting system
    "systemd-sysv", "udev", "dbus", "kmod", "e2fsprogs", "procps", "iproute2",
    "linux-image-amd64",
    # building gpio-sim for that kernel (customize.sh)
    "linux-headers-amd64", "linux-source-6.1", "make", "gcc", "xz-utils", "python3",
    # the hub (install-hub.sh)
    "python3-venv", "python3-dev", "libzbar0", "mosquitto", "mosquitto-clients", "chrony",
    "sqlite3", "ca-certificates",
    # the gate (install-kiosk.sh); systemd-timesyncd conflicts with the hub's chrony on one
    # machine, so it is left out: chrony keeps the clock of this hub-and-gate machine
    "espeak-ng", "fonts-noto-cjk", "v4l-utils",
    # the relay line from the command line (door-lock.sh), the scanner gun (evdev has no
    # wheels on PyPI: Debian's python3-evdev, seen through --system-site-packages)
    "gpiod", "python3-evdev",
]


def cache_root() -> Path:
    """Where images and wheelhouses are kept between runs."""
    if env := os.environ.get("GATEHOUSE_VM_CACHE"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/cache/gatehouse-vm")
    return Path.home() / ".cache" / "gatehouse-vm"


def image_key() -> str:
    """A hash of every input of the image: change a package or a guest file, get a new one."""
    h = hashlib.sha256()
    h.update(repr((PACKAGES, MIRROR, SECURITY, SUITE)).encode())
    for path in sorted(GUEST.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(GUEST)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Image:
    folder: Path

    @property
    def disk(self) -> Path:
        return self.folder / "base.qcow2"

    @property
    def kernel(self) -> Path:
        return self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"

    def ready(self) -> bool:
        return (self.folder / "done").exists()


@contextmanager
def locked(path: Path):
    """One builder at a time per cache (two test runs may start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def missing_tools() -> list[str]:
    tools = {"mmdebstrap": "mmdebstrap", "mkfs.ext4": "e2fsprogs", "qemu-img": "qemu-utils",
             "qemu-system-x86_64": "qemu-system-x86"}
    return sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})


def install_tools(log) -> str | None:
    """apt-get the host tools when missing (root only). Returns why not, or None."""
    missing = missing_tools()
    if not missing:
        return None
    if os.geteuid() != 0:
        return f"not root and missing host packages: {' '.join(missing)} (apt-get install them)"
    log(f"installing host packages: {' '.join(missing)}")
    return apt_install(missing)


def build(log=print) -> Image:
    """The cached image for the current inputs, built first when missing."""
    root = cache_root()
    image = Image(root / f"image-{image_key()}")
    if image.ready():
        return image
    with locked(root / "image.lock"):
        if image.ready():
            return image
        if os.geteuid() != 0:
            raise PermissionError("building the VM image needs root (mmdebstrap, chroot)")
        _build(image, log)
        _prune(root, keep=image.folder)
    return image


def _build(image: Image, log) -> None:
    t0 = time.monotonic()
    work = image.folder.with_name(image.folder.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    rootfs = work / "rootfs"
    work.mkdir(parents=True)
    sources = [f"deb {MIRROR} {SUITE} main", f"deb {MIRROR} {SUITE}-updates main",
               f"deb {SECURITY} {SUITE}-security main"]
    cmd = ["mmdebstrap", "--mode=root", "--variant=apt", "--components=main",
           "--include=" + ",".join(PACKAGES),
           "--aptopt=Acquire::Retries \"3\"",
           # no docs, manuals or translations: faster build, smaller image
           "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/doc/*",
           "--dpkgopt=path-include=/usr/share/doc/*/copyright",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           "--customize-hook=" + f'sh {GUEST / "customize.sh"} "$1"',
           SUITE, str(rootfs), *sources]
    log("building the VM image (mmdebstrap)")
    r = subprocess.run(cmd, capture_output=True, text=True)
    (work / "mmdebstrap.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed (log {work / 'mmdebstrap.log'}):\n"
                           + (r.stdout + r.stderr)[-3000:])
    # Direct kernel boot: no boot loader to install, and the kernel's path is known.
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    initrds = sorted((rootfs / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise RuntimeError("the image has no kernel or initrd in /boot")
    shutil.copy(kernels[-1], work / "vmlinuz")
    shutil.copy(initrds[-1], work / "initrd.img")
    # An ext4 file system filled from the folder (mkfs.ext4 -d): no loop device needed.
    raw = work / "root.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "gate-root", "-d", str(rootfs), str(raw),
                    "6G"], check=True, capture_output=True)
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(work / "base.qcow2")],
                   check=True, capture_output=True)
    raw.unlink()
    shutil.rmtree(rootfs)
    (work / "done").write_text(f"built in {time.monotonic() - t0:.0f} s\n")
    shutil.rmtree(image.folder, ignore_errors=True)
    work.rename(image.folder)
    # The base must never change under an overlay: read-only from now on.
    os.chmod(image.disk, 0o444)
    log(f"VM image built in {time.monotonic() - t0:.0f} s: {image.folder}")


def _prune(root: Path, keep: Path) -> None:
    """Older images (other keys) go: each is ~1 GB."""
    for old in root.glob("image-*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":  # python -m tests.vm.image: build (or find) the image
    print(build().folder)
