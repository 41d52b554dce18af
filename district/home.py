"""The district home (`--home DIR`, $GATEHOUSE_DISTRICT_HOME): its config, its signing
key, its broker logins, and in single-machine mode its PostgreSQL cluster and its
broker node's JetStream store (docs/district.md).

    district.toml     id, name, zone, dsn, nats urls, ports, retention, web hosts
    district.key      the key orders are signed with (0600)
    district.pub      its public half, for `hub district trust`
    secrets.json      broker passwords: the service's, the routes', each compound's (0600)
    pg/               the private PostgreSQL cluster (`district run`)
    nats/             the broker node's config and JetStream store (`district run`)
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from district.nats_local import SERVICE_USER
from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import COMPOUND_ID
from gatehouse.home import write_atomic, write_private

ENV_HOME = "GATEHOUSE_DISTRICT_HOME"


@dataclass
class DistrictConfig:
    """Everything `district.toml` may say, with every default here."""

    id: str
    name: str = ""
    zone: str = "Asia/Shanghai"
    dsn: str = ""                 # empty: the home's own cluster (pg/)
    nats_urls: list[str] = field(default_factory=list)   # empty: the home's own node
    host: str = "127.0.0.1"      # where compounds' bridges reach this machine
    nats_port: int = 4222
    mqtt_port: int = 1883
    workers: int = 2
    # The hub keeps passages and gate events 28 days (docs/admin.md): the district,
    # which only copies them, keeps them no longer.
    retention_days: int = 28
    web_hosts: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1"])
    # The MQTT listener's certificate and key (PEM paths): empty, plain MQTT.
    mqtt_tls_cert: str = ""
    mqtt_tls_key: str = ""

    @property
    def mqtt_tls(self) -> tuple[Path, Path] | None:
        if not self.mqtt_tls_cert:
            return None
        return Path(self.mqtt_tls_cert), Path(self.mqtt_tls_key)

    def __post_init__(self) -> None:
        if not COMPOUND_ID.match(self.id):
            raise ValueError(f"bad district id {self.id!r} (letters, digits, - and _)")
        ZoneInfo(self.zone)   # an unknown zone fails here, not at the first event
        if not 1 <= self.retention_days <= 3660:
            raise ValueError("retention_days is 1 to 3660")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)   # a TOML basic string


@dataclass(frozen=True)
class DistrictHome:
    root: Path

    @classmethod
    def at(cls, path: str | Path | None) -> DistrictHome:
        where = path or os.environ.get(ENV_HOME)
        if not where:
            raise ValueError(f"no district home: give --home or set {ENV_HOME}")
        return cls(Path(where).expanduser().resolve())

    @property
    def config_path(self) -> Path:
        return self.root / "district.toml"

    @property
    def key_path(self) -> Path:
        return self.root / "district.key"

    @property
    def public_path(self) -> Path:
        return self.root / "district.pub"

    @property
    def secrets_path(self) -> Path:
        return self.root / "secrets.json"

    @property
    def pg(self) -> Path:
        return self.root / "pg"

    @property
    def nats(self) -> Path:
        return self.root / "nats"

    def exists(self) -> bool:
        return self.config_path.exists()

    def init(self, config: DistrictConfig) -> None:
        """Create the home: config, key, broker passwords. Refuses an existing one."""
        if self.exists():
            raise FileExistsError(f"{self.config_path} exists")
        self.root.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        key.save(self.key_path)
        write_atomic(self.public_path, base64.b64encode(key.public_raw) + b"\n")
        write_private(self.secrets_path, json.dumps(
            {"service": secrets.token_urlsafe(24), "route": secrets.token_urlsafe(24),
             "compounds": {}}, indent=1).encode())
        self.save(config)

    def save(self, config: DistrictConfig) -> None:
        lines = ["# The district (docs/district.md). `district init` wrote it."]
        lines += [f"{k} = {_toml_value(v)}" for k, v in asdict(config).items()]
        write_atomic(self.config_path, ("\n".join(lines) + "\n").encode())

    def config(self) -> DistrictConfig:
        with open(self.config_path, "rb") as fh:
            doc = tomllib.load(fh)
        known = DistrictConfig.__dataclass_fields__
        return DistrictConfig(**{k: v for k, v in doc.items() if k in known})

    def key(self) -> SigningKey:
        return SigningKey.load(self.key_path)

    def public_b64(self) -> str:
        return self.public_path.read_text().strip()

    def secrets(self) -> dict:
        return json.loads(self.secrets_path.read_text())

    def add_compound(self, cid: str) -> str:
        """A broker login for compound `cid`; its password (the same one if it has one)."""
        if not COMPOUND_ID.match(cid):
            raise ValueError(f"bad compound id {cid!r} (letters, digits, - and _; no '.')")
        if cid == SERVICE_USER:
            # Two `district` users: nats-server refuses the whole config, so the broker
            # would not start again (docs/security.md D14).
            raise ValueError(f"{cid!r} is the district's own broker login: another id")
        doc = self.secrets()
        password = doc["compounds"].setdefault(cid, secrets.token_urlsafe(18))
        self._write_secrets(doc)
        return password

    def _write_secrets(self, doc: dict) -> None:
        tmp = self.secrets_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1)
        os.replace(tmp, self.secrets_path)

    def remove_compound(self, cid: str) -> bool:
        """Its broker login gone; False if it had none."""
        doc = self.secrets()
        if doc["compounds"].pop(cid, None) is None:
            return False
        self._write_secrets(doc)
        return True

    def dsn(self) -> str:
        from district.pg_local import PgCluster   # the home's own cluster
        return self.config().dsn or PgCluster(self.pg).dsn()

    def nats_urls(self) -> list[str]:
        """The workers' broker URLs, with the service login in them."""
        cfg, password = self.config(), self.secrets()["service"]
        urls = cfg.nats_urls or [f"nats://127.0.0.1:{cfg.nats_port}"]
        return [u.replace("nats://", f"nats://district:{password}@", 1)
                if "@" not in u else u for u in urls]
