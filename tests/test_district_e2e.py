"""A real compound bridged into a real district: `hub serve` and its Mosquitto with the
bridge `hub district link` writes, a gate's login publishing events; nats-server
(JetStream, MQTT listener), a `district worker` process and PostgreSQL
(tests/district_fixtures.py). A gate event reaches the district's events table, masked;
an order made at the district reaches the compound's gates in a new bundle, and its
report comes back; a day's backlog drains. Times are printed, never asserted."""
from __future__ import annotations

import sys
import time
import uuid

import pytest

from gatehouse import topics
from gatehouse.bundle import unseal
from gatehouse.codes.keys import SigningKey
from gatehouse.district_wire import OrderKind
from gatehouse.events import Event, EventBatch, dump
from gatehouse.home import Home
from hub import broker, district_config
from hub.gates import add_gate, setup_broker
from tests.processes import BIN, Broker, Process, free_port, wait_until
from tests.test_hub_district_link import Mqtt
from hub.features import event_handlers

district_db = pytest.importorskip("district.db")
pytest_plugins = ["tests.district_fixtures"]

FULL_NAME = "欧阳建国"


@pytest.fixture
def street(compound, tmp_path, nats_node, nats_url, district_dsn):
    """The district (its node, a worker, its database with id d1) and the compound c1
    linked to it; yields (gate client, district key, dsn, hub process)."""
    from district import schema
    from district.app_run import ENV_DSN, ENV_NATS
    from tests.district_fixtures import COMPOUNDS
    key = SigningKey.generate()
    with district_db.connect(district_dsn) as conn:
        schema.set_setting(conn, "district_id", "d1")
    port = free_port()
    files = setup_broker(compound.home, port)
    gate_ep = add_gate(compound, "gate-1", kiosk_home=Home.at(tmp_path / "k"))
    district_config.trust(compound.db, "d1", key.public_raw)
    district_config.set_compound(compound.db, "c1")
    broker.write_bridge(files, "c1", "127.0.0.1", nats_node.cfg.mqtt_port, "c1",
                        COMPOUNDS["c1"])
    local = Broker(files, port, tmp_path / "compound.log").start()
    worker = Process([sys.executable, "-m", "district.cli", "worker", "--name", "w1"],
                     tmp_path / "worker.log", {ENV_DSN: district_dsn, ENV_NATS: nats_url},
                     name="w1").start()
    hub = Process([BIN / "hub", "serve", "--home", compound.home.root], tmp_path / "hub.log",
                  {"GATEHOUSE_HEALTH_PORT": "0"}).start()
    gate = Mqtt(gate_ep, "gate-1")
    try:
        wait_until(lambda: _one(district_dsn, "select last_status_at from compounds "
                                "where id = 'c1'"), 60,
                   message=f"the compound's status at the district\n{hub.tail()}\n"
                           f"{local.tail()}")
        yield gate, key, district_dsn, hub
    finally:
        gate.close()
        hub.stop()
        worker.stop()
        local.stop()


def _one(dsn: str, sql: str, args=()):
    with district_db.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


def test_a_gate_event_reaches_the_district_and_an_order_the_gates(street, compound):
    gate, key, dsn, hub = street
    event = Event(seq=1, id=uuid.uuid4().hex, kind="attempt", at=time.time(),
                  payload={"direction": "in", "outcome": "refuse", "person_ref": "ef" * 12,
                           "household": "7-2-302", "building": "7", "name": FULL_NAME,
                           "reasons": ["HEALTH_RED"], "alert": True})
    gate.publish(topics.gate_events("gate-1"),
                 dump(EventBatch(gate="gate-1", sent_at=time.time(), events=[event])))
    wait_until(lambda: _one(dsn, "select count(*) from events where event_id = %s",
                            [event.id]), 60, message="the event in the district's store")
    with district_db.connect(dsn) as conn:
        row = conn.execute("select compound, cseq, gate, name, household, person_ref, "
                           "outcome, alert from events where event_id = %s",
                           [event.id]).fetchone()
    assert tuple(row) == ("c1", 1, "gate-1", "欧**国", "7-2-**2", "ef" * 12, "refuse", True)
    wait_until(lambda: _one(dsn, "select last_status_at from compounds where id = 'c1'"),
               30, message="the status")

    # An order at the district; the gate sees the new bundle with the building sealed.
    from district import orders
    gate.c.subscribe(topics.HUB_BUNDLE, qos=1)
    wait_until(lambda: gate.of("hub/bundle"), 10, message="the first bundle")
    times, made = [], None
    for n, (kind, want) in enumerate([(OrderKind.SEAL, "sealed"), (OrderKind.REOPEN, None),
                                      (OrderKind.CONTROL, "controlled"),
                                      (OrderKind.REOPEN, None), (OrderKind.SEAL, "sealed")]):
        seen = len(gate.of("hub/bundle"))
        t0 = time.monotonic()
        with district_db.connect(dsn) as conn:
            made = orders.create(conn, key, "d1", "c1", kind, "street admin",
                                 building="7", note=f"e2e {n}")

        def arrived(seen=seen, want=want):
            for blob in gate.of("hub/bundle")[seen:]:
                b = unseal(blob, compound.hub_trusted_key())
                got = b.buildings.get("7")
                if (got.value if got is not None and got.value != "normal" else None) == want:
                    return b
            return None
        bundle = wait_until(arrived, 30, every=0.005,
                            message=f"order {made.seq}'s bundle\n{hub.tail()}")
        times.append(time.monotonic() - t0)
        print(f"\norder {made.seq} ({kind.value}) made at the district -> bundle "
              f"v{bundle.version} at the gate: {times[-1] * 1000:.0f} ms")
    print(f"order to gate's bundle over {len(times)} orders: median "
          f"{sorted(times)[len(times) // 2] * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    wait_until(lambda: _one(dsn, "select status from orders where compound = 'c1' and "
                            "seq = %s", [made.seq]) == "applied", 30,
               message="the last order's report at the district")
    assert _one(dsn, "select count(*) from orders where status <> 'applied'") == 0
    assert _one(dsn, "select report->>'bundle_version' from orders where seq = %s",
                [made.seq]) == str(bundle.version)
    assert compound.db["building_events"].count == 5


def test_a_days_backlog_of_a_compound_drains_into_the_district(street, compound):
    """5,000 events (a compound's day) stored at once, as after a day offline: every one
    reaches the district's store once, in the compound's sequence. Rate printed."""
    from hub import district_feed, schema
    from hub.ingest import Incoming, ingest
    gate, key, dsn, hub = street
    db = schema.open_db(compound.home.hub_db)
    policy = compound.build_bundle(1, int(time.time())).policy
    n, t0 = 5000, time.monotonic()
    for b in range(n // 500):
        events = [Event(seq=b * 500 + i + 1, id=uuid.uuid4().hex, kind="attempt",
                        at=time.time(), payload={"direction": "in", "outcome": "admit",
                                                 "person_ref": f"{b * 500 + i:024x}",
                                                 "household": "7-2-302", "building": "7"})
                  for i in range(500)]
        ingest(db, [Incoming(topics.gate_events("gate-1"), dump(EventBatch(
            gate="gate-1", sent_at=time.time(), events=events)), time.time())], policy,
               event_handlers())
    wait_until(lambda: _one(dsn, "select count(*) from events") == n, 120, every=0.05,
               message=f"{n} events at the district\n{hub.tail()}")
    stored = time.monotonic() - t0
    wait_until(lambda: district_feed.backlog(db) == 0, 60, every=0.05, message="all acked")
    acked = time.monotonic() - t0
    print(f"\n{n} events from the compound's feed into the district's store in "
          f"{stored:.2f} s ({n / stored:.0f}/s), all acked at the hub in {acked:.2f} s")
    assert _one(dsn, "select count(distinct cseq) from events where compound = 'c1'") == n
    assert _one(dsn, "select max(cseq) - min(cseq) + 1 from events") == n
