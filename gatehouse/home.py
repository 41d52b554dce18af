"""The home folder: keys, config and databases of a hub, a kiosk, or both on one machine."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "GATEHOUSE_HOME"


def default_home() -> Path:
    """$GATEHOUSE_HOME, else the per-user data folder ($XDG_DATA_HOME/gatehouse)."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME])
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "gatehouse"


@dataclass(frozen=True)
class Home:
    """Paths inside one home folder; nothing is created until a command needs it."""

    root: Path

    @classmethod
    def at(cls, path: str | Path | None) -> Home:
        return cls(Path(path).expanduser().resolve() if path else default_home())

    # Shared by every issuer in this home: the person-binding key (docs/codes.md).
    @property
    def binding_key(self) -> Path:
        return self.root / "binding.key"

    @property
    def hub(self) -> Path:
        return self.root / "hub"

    @property
    def hub_key(self) -> Path:
        return self.hub / "hub.key"

    @property
    def hub_db(self) -> Path:
        return self.hub / "hub.db"

    @property
    def hub_bundle(self) -> Path:
        return self.hub / "bundle.cose"

    @property
    def hub_public(self) -> Path:
        return self.hub / "hub.pub"

    @property
    def hub_broker(self) -> Path:
        """Mosquitto's config, ACL, password file and persistence for this compound."""
        return self.hub / "broker"

    @property
    def hub_mqtt(self) -> Path:
        """How the hub connects to the broker (host, port, password): mode 0600."""
        return self.hub / "mqtt.json"

    @property
    def authority(self) -> Path:
        return self.root / "authority"

    @property
    def authority_key(self) -> Path:
        return self.authority / "authority.key"

    @property
    def kiosk(self) -> Path:
        return self.root / "kiosk"

    @property
    def kiosk_bundle(self) -> Path:
        return self.kiosk / "bundle.cose"

    @property
    def kiosk_bundle_good(self) -> Path:
        """A copy of the newest bundle that verified: what the gate falls back to when
        its SD card spoils the current one."""
        return self.kiosk / "bundle.good.cose"

    @property
    def kiosk_hub_public(self) -> Path:
        return self.kiosk / "hub.pub"

    @property
    def kiosk_mqtt(self) -> Path:
        """How this gate connects to the broker (host, port, gate id, password): 0600."""
        return self.kiosk / "mqtt.json"

    @property
    def kiosk_db(self) -> Path:
        return self.kiosk / "kiosk.db"

    @property
    def kiosk_manifest(self) -> Path:
        """The last shelf manifest a parcel-area kiosk received (signed, as sent)."""
        return self.kiosk / "manifest.cose"


def write_private(path: Path, data: bytes) -> None:
    """Create a secret file readable by its owner only; never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace a file so that a reader or a power cut sees the old or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
