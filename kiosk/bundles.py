"""The bundle a kiosk decides with: the newest one signed by its hub that it holds."""
from __future__ import annotations

import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gatehouse.bundle import Bundle, BundleError, newer, unseal
from gatehouse.codes.keys import TrustedKey
from gatehouse.home import Home, write_atomic
from gatehouse.signed_files import SignedFileCache

log = logging.getLogger(__name__)


class KioskSetupError(Exception):
    """The kiosk lacks what it needs to decide (hub key or bundle), and says what to do."""


def hub_key(home: Home) -> TrustedKey:
    """The hub's public key: the kiosk's own copy (enrolment) or the hub's in a shared home."""
    for path in (home.kiosk_hub_public, home.hub_public):
        if path.exists():
            key = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                raise KioskSetupError(f"{path} is not an Ed25519 public key")
            raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return TrustedKey(raw, "hub", frozenset())
    raise KioskSetupError(f"no hub key in {home.root}: enrol this gate or run `hub init`")


def load_bundle(home: Home) -> Bundle:
    """Verify every bundle copy in the home and return the newest valid one."""
    key = hub_key(home)
    best, problems = None, []
    for path in (home.kiosk_bundle, home.kiosk_bundle_good, home.hub_bundle):
        if not path.exists():
            continue
        try:
            candidate = unseal(path.read_bytes(), key)
        except BundleError as exc:
            problems.append(f"{path}: {exc}")
            log.warning("ignoring a bundle copy: %s: %s", path, exc)
            continue
        if newer(candidate, best):
            best = candidate
    if best is None:
        raise KioskSetupError("no valid bundle: " + ("; ".join(problems) or "none received yet"))
    return best


class BundleCache:
    """The newest valid bundle, re-read only when one of its files changed on disk
    (gatehouse/signed_files.py).

    The gate asks for it every few hundred milliseconds; a stat() per file is all that
    costs until the hub link (or the hub, in a shared home) writes a new version.
    """

    def __init__(self, home: Home):
        self.home = home
        self.live = False  # the newest copy is the hub's own (a shared home): current
        self._files: SignedFileCache[Bundle] = SignedFileCache(
            (home.kiosk_bundle, home.hub_bundle), lambda: load_bundle(home),
            newer, (KioskSetupError,), what="bundle",
            required=True, on_new=lambda _: self._keep_good())

    @property
    def _bundle(self) -> Bundle | None:
        return self._files.held

    def get(self) -> Bundle:
        if self._files.refresh():
            self.live = self.home.hub_bundle.exists() and \
                _version_at(self.home.hub_bundle, self.home) == self._bundle.version
        return self._bundle

    @property
    def version(self) -> int:
        return self._bundle.version if self._bundle else 0

    def _keep_good(self) -> None:
        """Copy the gate's own bundle file once it verified as the newest."""
        if not self.home.kiosk_bundle.exists():
            return  # a home shared with the hub: the hub's own copy is the bundle
        try:
            blob = self.home.kiosk_bundle.read_bytes()
            if unseal(blob, hub_key(self.home)).version == self._bundle.version and (
                    not self.home.kiosk_bundle_good.exists()
                    or self.home.kiosk_bundle_good.read_bytes() != blob):
                write_atomic(self.home.kiosk_bundle_good, blob)
        except (OSError, BundleError, KioskSetupError) as exc:
            log.warning("could not keep a good copy of the bundle: %s", exc)


def _version_at(path, home: Home) -> int:
    try:
        return unseal(path.read_bytes(), hub_key(home)).version
    except (BundleError, OSError):
        return -1
