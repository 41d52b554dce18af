"""The shelf manifest a parcel-area kiosk hands parcels out from: the last signed copy
the hub link saved in the home, so a restart offline still knows every slot."""
from __future__ import annotations

import logging
from pathlib import Path

from gatehouse.codes.keys import TrustedKey
from gatehouse.parcels import Manifest, ManifestError, unseal_manifest
from gatehouse.signed_files import SignedFileCache

log = logging.getLogger(__name__)


def load_manifest(path: Path, key: TrustedKey) -> Manifest | None:
    """The manifest saved at `path`, verified again; None when there is none (yet)."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    return unseal_manifest(blob, key)


def manifest_version(path: Path, key: TrustedKey) -> int:
    """The version saved at `path`; 0 when there is none or it does not verify."""
    try:
        m = load_manifest(path, key)
    except (ManifestError, OSError):
        return 0
    return m.version if m else 0


class ManifestCache:
    """The newest valid manifest on disk, re-read only when its file changed
    (gatehouse/signed_files.py).

    The gate asks several times a second; a stat() is all that costs until the hub
    link writes a new version. A copy that no longer verifies (a bad SD card) is
    logged and the one in memory is kept; a version never goes back.
    """

    def __init__(self, path: Path, key: TrustedKey):
        self.path, self.key = path, key
        self._files: SignedFileCache[Manifest] = SignedFileCache(
            (path,), lambda: load_manifest(path, key),
            lambda new, held: new.version > held.version, (ManifestError, OSError),
            what="shelf manifest", on_new=_taken)

    def get(self) -> Manifest | None:
        return self._files.get()

    @property
    def version(self) -> int:
        m = self._files.held
        return m.version if m else 0


def _taken(m: Manifest) -> None:
    log.info("shelf manifest version %d: %d parcels", m.version, len(m.parcels))
