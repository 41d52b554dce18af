"""Broker credentials as the hub and each gate keep them (a 0600 JSON file in the home)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Endpoint:
    """Where the broker is, as a gate or the hub connects to it."""

    host: str
    port: int
    username: str
    password: str
    tls_port: int | None = None   # with the hub's CA (kiosk/ca.crt), the gate uses this

    def to_json(self) -> dict:
        doc = {"host": self.host, "port": self.port, "username": self.username,
               "password": self.password}
        if self.tls_port:
            doc["tls_port"] = self.tls_port
        return doc

    @classmethod
    def read(cls, path: Path) -> Endpoint:
        try:
            doc = json.loads(path.read_text())
            return cls(str(doc["host"]), int(doc["port"]), str(doc["username"]),
                       str(doc["password"]),
                       int(doc["tls_port"]) if doc.get("tls_port") else None)
        except FileNotFoundError:
            raise ValueError(f"{path} is missing: run `hub broker config` "
                             "(hub) or `hub gate add` (gate)") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not valid: {exc}") from None
