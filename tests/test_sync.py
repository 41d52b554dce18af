"""Gates and hub over a real Mosquitto: outbox up with end-to-end acks, bundles down."""
import json
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.bundle import seal
from gatehouse.codes import SigningKey
from gatehouse.endpoint import Endpoint
from gatehouse.events import MAX_MESSAGE_BYTES, EventKind
from gatehouse.net import close_client
from gatehouse.policy import BuildingStatus
from hub.features import event_handlers
from hub.meta import get_meta
from hub.sync import HubSync, SyncConfig
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import BundleCache, hub_key
from kiosk.clock import ClockJudge
from kiosk.link import HubLink, LinkConfig
from tests.processes import wait_until


@pytest.fixture
def hub_sync(compound, broker_proc):
    ep = Endpoint.read(compound.home.hub_mqtt)
    sync = HubSync(SyncConfig(ep.host, ep.port, ep.password), compound.home.hub_db,
                   compound.home.hub_bundle, compound.key, event_handlers())
    sync.start()
    wait_until(sync.connected.is_set, 10, message="hub connected")
    yield sync
    sync.stop()


@pytest.fixture
def link(gate_home):
    made = []

    def make(gate_id="gate-1", **kw):
        home = gate_home(gate_id)
        ep = Endpoint.read(home.kiosk_mqtt)
        store = AttemptLog(home.kiosk_db)
        cache = BundleCache(home)
        link = HubLink(LinkConfig(gate_id, ep.host, ep.port, ep.username, ep.password, **kw),
                       home.kiosk_db, home.kiosk_bundle, hub_key(home), ClockJudge("auto"),
                       current_bundle_version=lambda: cache.version)
        made.append(link)
        link.home, link.store, link.cache = home, store, cache
        return link
    yield make
    for link in made:
        link.stop()
        link.store.close()


def hub_events(compound, gate):
    return [r["id"] for r in compound.db.query(
        "select id from gate_events where gate = ? order by seq", [gate])]


def test_outbox_reaches_the_hub_once_and_is_acknowledged(compound, hub_sync, link):
    gate = link()
    ids = [gate.store.log_event(EventKind.EXIT_REQUEST, time.time()) for _ in range(1200)]
    gate.start()
    wait_until(lambda: gate.store.outbox.backlog() == 0, 20, message="outbox acknowledged")
    assert hub_events(compound, "gate-1") == ids
    # A restart of the link sends nothing twice: everything was acknowledged.
    assert gate.store.outbox.pending(0, 10) == []


def test_a_resent_batch_is_stored_once(compound, hub_sync, link):
    gate = link(resend_after=0.3)  # resend long before the hub could answer… and again
    ids = [gate.store.log_event(EventKind.EXIT_REQUEST, time.time()) for _ in range(50)]
    gate.start()
    wait_until(lambda: gate.store.outbox.backlog() == 0, 20, message="outbox acknowledged")
    time.sleep(0.5)
    assert sorted(hub_events(compound, "gate-1")) == sorted(ids)


def test_building_sealed_at_the_hub_reaches_the_running_gate(compound, hub_sync, link):
    # Pushed, not polled: it arrives within the wait's bound (its latency is a figure for
    # a benchmark; a timed assertion here failed on loaded machines).
    gate = link()
    gate.start()
    wait_until(lambda: gate.home.kiosk_bundle.exists(), 10, message="first bundle")
    compound.set_building("7", BuildingStatus.SEALED, int(time.time()))
    wait_until(lambda: gate.cache.get().buildings.get("7") is BuildingStatus.SEALED, 5,
               every=0.01, message="sealed building at the gate")


def test_forged_or_older_bundles_are_refused(compound, hub_sync, link):
    gate = link()
    gate.start()
    wait_until(lambda: gate.home.kiosk_bundle.exists(), 10, message="first bundle")
    current = gate.cache.get().version
    ep = Endpoint.read(compound.home.hub_mqtt)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rogue-with-hub-password",
                    protocol=mqtt.MQTTv5)
    c.username_pw_set(ep.username, ep.password)
    c.connect(ep.host, ep.port)
    c.loop_start()
    try:
        forged = seal(compound.build_bundle(current + 50, int(time.time())),
                      SigningKey.generate())
        c.publish(topics.HUB_BUNDLE, forged, qos=1).wait_for_publish(5)
        older = seal(compound.build_bundle(1, int(time.time())), compound.key)
        c.publish(topics.HUB_BUNDLE, older, qos=1).wait_for_publish(5)
        wait_until(lambda: gate.state.rejected_bundles >= 1, 5, message="refusal")
        time.sleep(0.3)
        assert gate.cache.get().version == current
    finally:
        close_client(c)


def test_bad_messages_are_quarantined_and_ingest_goes_on(compound, hub_sync, link):
    gate = link()
    ep = Endpoint.read(gate.home.kiosk_mqtt)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gate-1-raw", protocol=mqtt.MQTTv5)
    c.username_pw_set(ep.username, ep.password)
    c.connect(ep.host, ep.port)
    c.loop_start()
    try:
        for payload in (b"not json", b"\xff\xfe", json.dumps({"v": 1, "gate": "gate-2",
                        "sent_at": 1, "events": []}).encode(), b"{" * (MAX_MESSAGE_BYTES + 100)):
            c.publish(topics.gate_events("gate-1"), payload, qos=1).wait_for_publish(5)
    finally:
        close_client(c)
    ids = [gate.store.log_event(EventKind.EXIT_REQUEST, time.time()) for _ in range(5)]
    gate.start()
    wait_until(lambda: gate.store.outbox.backlog() == 0, 20, message="good events after bad ones")
    assert hub_events(compound, "gate-1") == ids
    reasons = [r["reason"] for r in compound.db.query("select reason from quarantine")]
    assert len(reasons) == 4
    assert any("not JSON" in r for r in reasons)
    assert any("over the limit" in r for r in reasons)  # over 1 MiB: past the broker (its limit has headroom for the header), not the hub


def test_heartbeat_and_status_show_the_gate(compound, hub_sync, link):
    gate = link(heartbeat_s=0.5)
    gate.start()
    wait_until(lambda: next(compound.db.query(
        "select heartbeat from gates where id = 'gate-1'"))["heartbeat"] is not None, 10,
        message="heartbeat")
    row = next(compound.db.query("select * from gates where id = 'gate-1'"))
    assert row["online"] == 1
    beat = json.loads(row["heartbeat"])
    assert beat["gate"] == "gate-1" and beat["outbox"] == 0
    gate.stop()
    wait_until(lambda: next(compound.db.query(
        "select online from gates where id = 'gate-1'"))["online"] == 0, 10,
        message="offline status")
    assert get_meta(compound.db, "compound") == "测试小区"


def test_the_hub_time_beacon_vouches_for_the_gate_clock(compound, hub_sync, link):
    gate = link()
    gate.start()
    wait_until(lambda: gate.clock.offset is not None, 10, message="time beacon")
    assert abs(gate.clock.offset) < 1.0 and gate.clock.trusted()
