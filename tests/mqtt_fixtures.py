"""A real Mosquitto broker, configured as `hub broker config` configures it."""
from __future__ import annotations

import pytest

from gatehouse.home import Home
from hub.gates import add_gate, setup_broker
from tests.processes import Broker, free_port


@pytest.fixture
def broker_proc(compound, tmp_path):
    """Mosquitto on a free loopback port with the compound's ACL and passwords."""
    port = free_port()
    files = setup_broker(compound.home, port)
    proc = Broker(files, port, tmp_path / "mosquitto.log").start()
    yield proc
    proc.stop()


@pytest.fixture
def gate_home(compound, broker_proc, tmp_path):
    """Make a registered gate's home: credentials and hub key, nothing else."""
    def make(gate_id: str = "gate-1", role: str | None = None) -> Home:
        home = Home.at(tmp_path / f"kiosk-{gate_id}")
        add_gate(compound, gate_id, kiosk_home=home,
                 role=role or ("parcels" if gate_id.startswith("parcels") else "gate"))
        return home
    return make
