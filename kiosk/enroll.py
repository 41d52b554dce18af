"""`kiosk enroll`: take the hub's one-time code and become a registered gate.

From the code (scanned by this gate's own camera, or typed), fetch the credentials
from the hub, check the hub's key against the code's fingerprint and its signature,
open the sealed MQTT login, and write the gate's home: kiosk/mqtt.json (0600),
kiosk/hub.pub and the gate id in kiosk/config.toml. Protocol: hub/enroll.py.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gatehouse.endpoint import Endpoint
from gatehouse.home import Home, write_atomic, write_private

# The wire format is hub/enroll.py's; the kiosk does not import hub code.
PREFIX = "gatehouse-enroll:"


class EnrollFailed(Exception):
    """Enrollment did not happen; the message says why and what to do."""


@dataclass(frozen=True)
class Enrolled:
    gate_id: str
    endpoint: Endpoint
    tls_port: int | None = None


def _derive(token: str, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None,
                info=b"gatehouse-enroll " + purpose).derive(token.encode())


def parse_code(text: str) -> tuple[str, str, str]:
    """(hub URL, token, fingerprint) from the code's text."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise EnrollFailed("not a Gatehouse enrollment code")
    try:
        q = parse_qs(text[len(PREFIX):].lstrip("?"), strict_parsing=True)
        return q["hub"][0].rstrip("/"), q["t"][0], q["f"][0].lower()
    except (KeyError, IndexError, ValueError):
        raise EnrollFailed("the enrollment code is damaged: make a new one") from None


def fetch(code_text: str, timeout: float = 15.0) -> tuple[dict, bytes]:
    """Redeem the code at the hub; returns (the opened credentials, hub.pub bytes)."""
    hub_url, token, fp = parse_code(code_text)
    tid = _derive(token, b"id").hex()[:32]
    req = urllib.request.Request(f"{hub_url}/enroll/{tid}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise EnrollFailed(f"the hub refused: {exc.read().decode(errors='replace').strip()}") \
            from None
    except (urllib.error.URLError, OSError) as exc:
        raise EnrollFailed(f"cannot reach the hub at {hub_url}: {exc}") from None
    try:
        body = base64.b64decode(answer["body"])
        sig = base64.b64decode(answer["sig"])
        doc = json.loads(body)
        pub_pem = doc["hub_pub"].encode()
    except (KeyError, ValueError, TypeError):
        raise EnrollFailed("the hub's answer is malformed") from None
    if hashlib.sha256(pub_pem).hexdigest()[:32] != fp:
        raise EnrollFailed("the hub's key does not match the code: not our hub")
    key = serialization.load_pem_public_key(pub_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise EnrollFailed("the hub's key is not Ed25519")
    try:
        key.verify(sig, body)
        blob = base64.b64decode(doc["sealed"])
        secret = json.loads(AESGCM(_derive(token, b"seal")).decrypt(
            blob[:12], blob[12:], tid.encode()))
    except (InvalidSignature, InvalidTag, KeyError, ValueError, TypeError):
        raise EnrollFailed("the hub's answer does not verify: make a new code") from None
    if secret.get("gate_id") != doc.get("gate_id"):
        raise EnrollFailed("the hub's answer names two gates")
    return secret, pub_pem


def set_gate_id(config_path: Path, gate_id: str) -> None:
    """Write `gate_id` at the top level of config.toml, keeping every other setting."""
    old = config_path.read_text() if config_path.exists() else ""
    if old:
        tomllib.loads(old)  # refuse to rewrite a file we cannot read
    lines, top = [], True
    for line in old.splitlines():
        if line.lstrip().startswith("["):
            top = False
        if top and re.match(r"\s*gate_id\s*=", line):
            continue
        lines.append(line)
    text = f"gate_id = {json.dumps(gate_id)}\n" + "\n".join(lines)
    tomllib.loads(text)
    write_atomic(config_path, (text.rstrip("\n") + "\n").encode())


def install(home: Home, secret: dict, pub_pem: bytes) -> Enrolled:
    """Write what the hub gave into the gate's home."""
    mqtt = secret["mqtt"]
    tls = secret.get("tls")
    endpoint = Endpoint(str(mqtt["host"]), int(mqtt["port"]), str(mqtt["username"]),
                        str(mqtt["password"]), int(tls["port"]) if tls else None)
    home.kiosk.mkdir(parents=True, exist_ok=True)
    if home.kiosk_hub_public.exists() and home.kiosk_hub_public.read_bytes() != pub_pem \
            and home.kiosk_bundle.exists():
        home.kiosk_bundle.unlink()  # signed by another hub: this one's comes on connect
    if home.kiosk_mqtt.exists():
        home.kiosk_mqtt.unlink()
    write_private(home.kiosk_mqtt, json.dumps(endpoint.to_json(), indent=1).encode())
    write_atomic(home.kiosk_hub_public, pub_pem)
    if tls:  # from now on the gate's link uses TLS, trusting this CA alone
        write_atomic(home.kiosk / "ca.crt", tls["ca"].encode())
    elif (home.kiosk / "ca.crt").exists():
        (home.kiosk / "ca.crt").unlink()  # another hub's, or a broker without TLS now
    set_gate_id(home.kiosk / "config.toml", secret["gate_id"])
    return Enrolled(secret["gate_id"], endpoint, tls["port"] if tls else None)


def enroll(home: Home, code_text: str) -> Enrolled:
    secret, pub = fetch(code_text)
    return install(home, secret, pub)


def scan_for_code(camera: str, timeout: float = 120.0) -> str:
    """Watch the camera until an enrollment code is in view; its text."""
    from kiosk.scanner import make_decoder, open_source
    decoder = make_decoder("pipeline")
    deadline = time.monotonic() + timeout
    with open_source(camera) as source:
        while time.monotonic() < deadline:
            frame = source.read()
            if frame is None:
                if camera.startswith(("file:", "video:")):
                    break  # played to the end
                time.sleep(0.05)
                continue
            for symbol in decoder.decode(frame.image):
                if symbol.text.startswith(PREFIX):
                    return symbol.text
    raise EnrollFailed(f"no enrollment code seen on {camera} in {timeout:.0f} s")
