"""Gates the hub knows: registering one gives it broker credentials and the hub's key."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from gatehouse import topics
from gatehouse.endpoint import Endpoint
from gatehouse.home import Home, write_private
from hub import broker, schema
from hub.compound import Compound, HubError


def read_endpoint(path: Path) -> Endpoint:
    try:
        return Endpoint.read(path)
    except ValueError as exc:
        raise HubError(str(exc)) from None


def _write_secret(path: Path, doc: dict) -> None:
    if path.exists():
        path.unlink()
    write_private(path, json.dumps(doc, indent=1).encode())


ROLES = ("gate", "parcels")


def parcel_gates(db) -> list[str]:
    return [r["id"] for r in db.query("select id from gates where role = 'parcels' and "
                                      "retired_at is null")]


def write_acl(compound: Compound) -> None:
    """The broker's ACL from the gates' roles, re-read by a running broker."""
    files = broker.BrokerFiles.in_folder(compound.home.hub_broker)
    broker.write_acl(files, parcel_gates(compound.db))
    broker.reload(files)


def set_role(compound: Compound, gate_id: str, role: str) -> None:
    if role not in ROLES:
        raise HubError(f"a gate's role is one of {', '.join(ROLES)}")
    if not compound.db["gates"].count_where("id = ? and retired_at is null", [gate_id]):
        raise HubError(f"no gate {gate_id}")
    compound.db.execute("update gates set role = ? where id = ?", [role, gate_id])
    write_acl(compound)


def setup_broker(home: Home, port: int = 1883, bind: str = "127.0.0.1",
                 host: str = "127.0.0.1") -> broker.BrokerFiles:
    """Write the broker's files and the hub's own credentials (kept when they exist)."""
    known: tuple[str, ...] = ()
    if home.hub_db.exists():
        db = schema.open_db(home.hub_db)
        try:
            known = tuple(parcel_gates(db))
        finally:
            db.close()
    files = broker.write_broker_files(home.hub_broker, port, bind, known)
    password = broker.new_password()
    broker.set_password(files.passwd, broker.HUB_USER, password)
    _write_secret(home.hub_mqtt, Endpoint(host, port, broker.HUB_USER, password).to_json())
    broker.reload(files)
    return files


def add_gate(compound: Compound, gate_id: str, name: str | None = None,
             kiosk_home: Home | None = None, host: str | None = None,
             role: str = "gate") -> Endpoint:
    """Register a gate, give it a broker password; with kiosk_home, hand it over there."""
    if not topics.GATE_ID.match(gate_id) or gate_id == broker.HUB_USER:
        raise HubError(f"a gate id is 1-40 letters, digits, . _ - (and not {broker.HUB_USER!r})")
    hub_endpoint = read_endpoint(compound.home.hub_mqtt)
    files = broker.BrokerFiles.in_folder(compound.home.hub_broker)
    password = broker.new_password()
    broker.set_password(files.passwd, gate_id, password)
    if role not in ROLES:
        raise HubError(f"a gate's role is one of {', '.join(ROLES)}")
    compound.db["gates"].upsert({"id": gate_id, "name": name or gate_id,
                                 "added_at": int(time.time()), "retired_at": None,
                                 "online": 0, "role": role}, pk="id")
    broker.write_acl(files, parcel_gates(compound.db))
    broker.reload(files)
    endpoint = Endpoint(host or hub_endpoint.host, hub_endpoint.port, gate_id, password)
    if kiosk_home is not None:  # handed over as enrollment does: TLS when the broker has it
        tls_port = broker.tls_port(files) if files.ca_cert.exists() else None
        _write_secret(kiosk_home.kiosk_mqtt, Endpoint(
            endpoint.host, endpoint.port, gate_id, password, tls_port).to_json())
        kiosk_home.kiosk.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(compound.home.hub_public, kiosk_home.kiosk_hub_public)
        if tls_port:
            shutil.copyfile(files.ca_cert, kiosk_home.kiosk / "ca.crt")
    return endpoint


def cancel_codes(compound: Compound, gate_id: str, at: int) -> int:
    """Cancel a gate's unused codes (retiring it, or a code shown to the wrong person)."""
    cur = compound.db.execute("update enrollments set cancelled_at = ? where gate = ? and "
                              "used_at is null and cancelled_at is null", [at, gate_id])
    compound.db.conn.commit()
    return cur.rowcount


def retire_gate(compound: Compound, gate_id: str, at: int) -> bool:
    """Retire a gate: its broker login goes (a running broker drops it at once), its
    unused enrollment codes are cancelled, and what it still sends is quarantined.
    Returns whether a running broker was told; if not, it takes effect when it starts."""
    row = next(compound.db.query("select retired_at from gates where id = ?", [gate_id]), None)
    if row is None:
        raise HubError(f"no gate {gate_id}")
    files = broker.BrokerFiles.in_folder(compound.home.hub_broker)
    if files.passwd.exists():
        broker.remove_user(files.passwd, gate_id)
    cancel_codes(compound, gate_id, at)
    if row["retired_at"] is None:
        compound.db.execute("update gates set retired_at = ?, online = 0 where id = ?",
                            [at, gate_id])
        compound.db.conn.commit()
    if files.acl.exists():
        broker.write_acl(files, parcel_gates(compound.db))
    return broker.reload(files)
