"""Enrolling a new gate: a one-time, short-lived code the gate scans (docs/deploy.md).

The code (a QR on the admin page or `hub gate enroll`) carries the hub's enrollment
URL, a random secret token and the fingerprint of the hub's public key. The gate asks
the URL for its credentials naming only an id derived from the token; the hub answers
once, with its public key, the gate's id and its MQTT login sealed (AES-GCM) under a
key derived from the token, all signed by the hub's key. A sniffer on the LAN sees
neither the token nor the password; a machine posing as the hub fails the fingerprint.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gatehouse import topics
from gatehouse.db import write_transaction
from hub import broker
from hub.compound import Compound, HubError
from hub.gates import add_gate, read_endpoint

PREFIX = "gatehouse-enroll:"
DEFAULT_MINUTES = 30
WIRE_VERSION = 1


class EnrollError(HubError):
    """A code that is unknown, used, expired or cancelled (status: the HTTP status)."""

    def __init__(self, message: str, status: int = 410):
        super().__init__(message)
        self.status = status


def fingerprint(public_pem: bytes) -> str:
    """What the code pins the hub key to: 128 bits of SHA-256 of hub.pub, hex."""
    return hashlib.sha256(public_pem).hexdigest()[:32]


def _derive(token: str, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None,
                info=b"gatehouse-enroll " + purpose).derive(token.encode())


def token_id(token: str) -> str:
    """The name under which the gate asks for its credentials (reveals nothing of the token)."""
    return _derive(token, b"id").hex()[:32]


def seal_key(token: str) -> bytes:
    return _derive(token, b"seal")


@dataclass(frozen=True)
class EnrollCode:
    """What the QR says: where the hub is, the secret token, the hub key's fingerprint."""

    hub_url: str
    token: str
    fingerprint: str

    def text(self) -> str:
        return PREFIX + "?" + urlencode({"hub": self.hub_url, "t": self.token,
                                         "f": self.fingerprint})

    @classmethod
    def parse(cls, text: str) -> EnrollCode:
        text = text.strip()
        if not text.startswith(PREFIX):
            raise ValueError("not a Gatehouse enrollment code")
        q = parse_qs(text[len(PREFIX):].lstrip("?"), strict_parsing=True)
        try:
            hub_url, token, fp = q["hub"][0], q["t"][0], q["f"][0]
        except (KeyError, IndexError):
            raise ValueError("an enrollment code needs hub, t and f") from None
        if urlsplit(hub_url).scheme not in ("http", "https") or len(fp) != 32:
            raise ValueError("enrollment code: bad hub URL or fingerprint")
        return cls(hub_url.rstrip("/"), token, fp.lower())

    @property
    def redeem_url(self) -> str:
        return f"{self.hub_url}/enroll/{token_id(self.token)}"


def create_code(compound: Compound, gate_id: str, hub_url: str, at: int, *,
                name: str | None = None, broker_host: str | None = None,
                minutes: int = DEFAULT_MINUTES, actor: str = "cli") -> EnrollCode:
    """Make a one-time code for a gate (a new id, or an active gate's replacement Pi)."""
    if not topics.GATE_ID.match(gate_id) or gate_id == broker.HUB_USER:
        raise HubError(f"a gate id is 1-40 letters, digits, . _ - (and not {broker.HUB_USER!r})")
    if urlsplit(hub_url).scheme not in ("http", "https") or not urlsplit(hub_url).hostname:
        raise HubError(f"the hub URL must be http(s)://HOST:PORT, not {hub_url!r}")
    if not compound.home.hub_mqtt.exists():
        raise HubError("no broker config yet: run `hub broker config` first")
    row = next(compound.db.query("select retired_at from gates where id = ?", [gate_id]), None)
    if row and row["retired_at"] is not None:
        raise HubError(f"gate {gate_id} was retired: enroll the new Pi under a new id")
    port = read_endpoint(compound.home.hub_mqtt).port
    broker_host = broker_host or urlsplit(hub_url).hostname
    files = broker.BrokerFiles.in_folder(compound.home.hub_broker)
    if broker.tls_port(files) and broker_host.lower() not in [
            n.lower() for n in broker.cert_names(files)]:
        # The gate checks the name it connects to against the certificate: it would
        # never connect. Say so now, not at the gate.
        raise HubError(f"the broker's TLS certificate does not name {broker_host!r} (it "
                       f"names {', '.join(broker.cert_names(files))}): use one of those "
                       "in the hub URL, or make the certificate again naming it too "
                       "(`hub broker tls --host NAME …`, every name) and restart the broker")
    token = secrets.token_urlsafe(18)
    compound.db["enrollments"].insert({
        "token_id": token_id(token), "seal_key": seal_key(token).hex(), "gate": gate_id,
        "name": name or gate_id, "broker_host": broker_host,
        "broker_port": port, "created_at": at, "expires_at": at + minutes * 60,
        "actor": actor, "used_at": None, "used_from": None, "cancelled_at": None})
    return EnrollCode(hub_url.rstrip("/"), token,
                      fingerprint(compound.home.hub_public.read_bytes()))


def redeem(compound: Compound, tid: str, now: float, remote: str = "") -> bytes:
    """Use a code once: register the gate and answer with its sealed, signed credentials."""
    with write_transaction(compound.db):
        row = next(compound.db.query("select * from enrollments where token_id = ?", [tid]),
                   None)
        if row is None:
            raise EnrollError("unknown enrollment code", 404)
        if row["used_at"] is not None:
            raise EnrollError("this enrollment code was already used: make a new one")
        if row["cancelled_at"] is not None:
            raise EnrollError("this enrollment code was cancelled")
        if now > row["expires_at"]:
            raise EnrollError("this enrollment code has expired: make a new one")
        compound.db.execute("update enrollments set used_at = ?, used_from = ? "
                            "where token_id = ?", [now, remote[:100], tid])
    endpoint = add_gate(compound, row["gate"], row["name"], host=row["broker_host"])
    secret = {"gate_id": row["gate"], "mqtt": {**endpoint.to_json(),
                                                 "port": row["broker_port"]}}
    files = broker.BrokerFiles.in_folder(compound.home.hub_broker)
    if files.ca_cert.exists() and broker.tls_port(files):  # the gate's default from now on
        secret["tls"] = {"port": broker.tls_port(files), "ca": files.ca_cert.read_text()}
    nonce = os.urandom(12)
    sealed = AESGCM(bytes.fromhex(row["seal_key"])).encrypt(
        nonce, json.dumps(secret).encode(), tid.encode())
    body = json.dumps({"v": WIRE_VERSION, "gate_id": row["gate"], "issued_at": time.time(),
                       "hub_pub": compound.home.hub_public.read_text(),
                       "sealed": base64.b64encode(nonce + sealed).decode()}).encode()
    return json.dumps({"body": base64.b64encode(body).decode(),
                       "sig": base64.b64encode(compound.key.sign(body)).decode()}).encode()


def codes(compound: Compound) -> list[dict]:
    """Every code made, newest first, without its keys."""
    return [{k: v for k, v in r.items() if k != "seal_key"} for r in compound.db.query(
        "select * from enrollments order by created_at desc")]
