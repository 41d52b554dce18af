"""The broker's two doors: the plain MQTT listener and the TLS one (docs/deploy.md §6).

Which gates still use the plain port is what their heartbeats say (`tls`); a gate whose
heartbeat does not say (none since enrollment, or a gate from before the field) counts
as plain. Closing the plain listener binds it to loopback only: the hub's own `hub
serve` on this machine keeps its login there, and no password crosses the LAN in the
clear. Mosquitto does not change its listeners on a reload: restart it after.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from gatehouse.endpoint import Endpoint
from gatehouse.home import write_atomic, write_private
from hub import broker
from hub.compound import Compound, HubError

LOOPBACK = "127.0.0.1"
LAN = "0.0.0.0"
_LISTENER = re.compile(r"^listener (\d+) (\S+)$", re.M)


class Transport(StrEnum):
    TLS = "tls"
    PLAIN = "plain"
    UNKNOWN = "unknown"   # no heartbeat saying which since it was enrolled


@dataclass(frozen=True)
class Listeners:
    plain_port: int
    plain_bind: str
    tls_port: int | None

    @property
    def plain_closed(self) -> bool:
        """Closed to the LAN: only this machine reaches the plain port."""
        return self.plain_bind in (LOOPBACK, "localhost", "::1")


def listeners(files: broker.BrokerFiles) -> Listeners:
    if not files.conf.exists():
        raise HubError("no broker config: run `hub broker config` first")
    m = _LISTENER.search(files.conf.read_text())
    if m is None:
        raise HubError(f"{files.conf} has no listener line: run `hub broker config` again")
    return Listeners(int(m[1]), m[2], broker.tls_port(files))


def gate_transports(compound: Compound) -> dict[str, Transport]:
    """Each active gate and how its last heartbeat says it reaches the broker."""
    out: dict[str, Transport] = {}
    for row in compound.db.query("select id, heartbeat from gates where retired_at is null "
                                 "order by id"):
        tls = json.loads(row["heartbeat"]).get("tls") if row["heartbeat"] else None
        out[row["id"]] = (Transport.UNKNOWN if tls is None
                          else Transport.TLS if tls else Transport.PLAIN)
    return out


def _rewrite(files: broker.BrokerFiles, bind: str) -> None:
    port = listeners(files).plain_port
    write_atomic(files.conf, broker.broker_conf(files, port, bind).encode())


def close_plain(compound: Compound, force: bool = False) -> list[str]:
    """Bind the plain listener to loopback; refuse while a gate may still use it.

    Returns the gates cut off (only with force). The hub's own login moves to loopback.
    """
    files = broker.BrokerFiles.in_folder(compound.home.hub_broker)
    now = listeners(files)
    if now.tls_port is None:
        raise HubError("there is no TLS listener: closing the plain port would cut every "
                       "gate off (run `hub broker tls --host …` first)")
    plain = [f"{g} ({t.value})" for g, t in gate_transports(compound).items()
             if t is not Transport.TLS]
    if plain and not force:
        raise HubError("these gates still use the plain port or have not said otherwise "
                       "in a heartbeat: " + ", ".join(plain) + ". Enroll them again (they "
                       "get TLS), or close anyway with --force")
    _rewrite(files, LOOPBACK)
    hub = Endpoint.read(compound.home.hub_mqtt)
    if hub.host != LOOPBACK:
        compound.home.hub_mqtt.unlink()
        write_private(compound.home.hub_mqtt, json.dumps(
            Endpoint(LOOPBACK, hub.port, hub.username, hub.password,
                     hub.tls_port).to_json(), indent=1).encode())
    return plain


def open_plain(compound: Compound, bind: str = LAN) -> None:
    """Open the plain listener to the LAN again (gates enrolled before TLS, a repair)."""
    _rewrite(broker.BrokerFiles.in_folder(compound.home.hub_broker), bind)
