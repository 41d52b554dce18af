"""H7-1: a gate's `back` that reaches the hub before its `lost` leaves the office's
camera_lost alert open for ever, for a camera that works.

The gate's link sends new events ahead of an old backlog (kiosk/link.py, "New events go
ahead of an old backlog"); hub/camera_outages.py acts on each event as it arrives
(`back` with no open alert: nothing; `lost` with none: a new alert), never asking
whether a later camera event of the gate is already stored. The hub's own ingest
already handles this order for overrides (hub/ingest.py: "A volunteer's decision can
arrive before its attempt"); the camera handler did not.

Both tests failed at 25c1833, before the fix; they pass since the handler acts on the
gate's newest camera event by seq.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from gatehouse import topics
from gatehouse.endpoint import Endpoint
from gatehouse.event_payloads import CameraPayload
from gatehouse.events import EventBatch, EventKind, dump
from hub import effects
from hub.event_handlers import EventHandlers
from hub.ingest import Incoming, ingest
from hub.parcels import gate_events as parcels
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import hub_key
from kiosk.clock import ClockJudge
from kiosk.link import HubLink, LinkConfig
from tests.processes import wait_until
from tests.test_camera_outages import camera, send
from tests.test_sync import hub_sync  # noqa: F401  (a fixture: the hub's MQTT side)



def open_camera_alerts(db) -> list[dict]:
    return list(db.query("select id, gate, acked_by, note from alerts "
                         "where kind = 'camera_lost' and acked_at is null"))


def test_back_stored_before_its_lost_leaves_the_alert_open(compound):
    """The hub alone: the two batches in the order the gate's link sends them."""
    compound.db["gates"].insert({"id": "north", "name": "north"})
    t = time.time() - 600
    lost, back = camera(7, "lost", t, problem="OSError: no /dev/video0"), \
        camera(8, "back", t + 300, lost_for_s=300.0)
    send(compound, "north", back)      # the live event, sent ahead of the backlog
    send(compound, "north", lost)      # the backlog, after
    # The gate's last word (seq 8) is that its camera is back: no alert should be open.
    assert open_camera_alerts(compound.db) == []


def test_a_gate_back_online_with_a_backlog_ends_with_an_open_alert(compound, hub_sync,
                                                                  gate_home):
    """End to end, real Mosquitto, the real HubSync and HubLink at their default batch
    (500) and window (8): a gate that was cut off from the hub for a busy day (4,100
    events waiting) and whose camera died while it was cut off. Its link comes back,
    and while the backlog drains (the hub's database busy for a moment: a backup, the
    nightly purge, the admin page) the camera is mended."""
    home = gate_home("gate-1")
    ep = Endpoint.read(home.kiosk_mqtt)
    store = AttemptLog(home.kiosk_db)
    store.db.execute("PRAGMA synchronous = OFF")     # only to write the backlog quickly
    t = time.time() - 3600
    for i in range(4100):
        store.log_event(EventKind.EXIT_REQUEST, t + i * 0.5)
    store.log_event(EventKind.CAMERA, t + 2100,
                    CameraPayload(state="lost", problem="the camera stopped delivering frames"))
    link = HubLink(LinkConfig("gate-1", ep.host, ep.port, ep.username, ep.password),
                   home.kiosk_db, home.kiosk_bundle, hub_key(home), ClockJudge("auto"))
    busy = sqlite3.connect(compound.home.hub_db, timeout=5)
    busy.execute("begin immediate")                   # the hub's database busy ~2 s
    try:
        link.start()
        wait_until(lambda: link.state.connected, 10, message="gate connected")
        time.sleep(0.5)                               # the first 8 batches are out
        store.log_event(EventKind.CAMERA, time.time(),
                        CameraPayload(state="back", lost_for_s=1500.0))
        time.sleep(1.5)
    finally:
        busy.rollback()
        busy.close()
    try:
        wait_until(lambda: store.outbox.backlog() == 0, 60, message="backlog acknowledged")
        kinds = [r["state"] for r in compound.db.query(
            "select json_extract(payload, '$.state') as state from gate_events "
            "where gate = 'gate-1' and kind = 'camera' order by seq")]
        assert kinds == ["lost", "back"]               # the gate said: lost, then back
        arrived = [r["state"] for r in compound.db.query(
            "select json_extract(payload, '$.state') as state from gate_events "
            "where gate = 'gate-1' and kind = 'camera' order by rowid")]
        print("stored in the order", arrived)
        assert open_camera_alerts(compound.db) == []
    finally:
        link.stop()
        store.close()


def test_hub_gate_reapply_of_an_old_lost_opens_an_alert_for_a_camera_long_back(compound):
    """`hub gate reapply` (the real CLI) applies a `lost` whose effects failed at ingest
    (a hub bug since fixed: docs/admin.md's use of reapply) after its `back` was
    applied: the same order problem, and the office is sent "camera lost" for an
    outage over weeks ago."""
    def broken(s):                      # the camera handler of a hub with a bug
        raise RuntimeError("a bug since fixed")
    buggy = EventHandlers()
    effects.register(buggy)
    parcels.register(buggy)
    buggy.handle(EventKind.CAMERA, broken)
    compound.db["gates"].insert({"id": "north", "name": "north"})
    t = time.time() - 20 * 86400
    policy = compound.build_bundle(1, int(time.time())).policy
    msg = Incoming(topics.gate_events("north"), dump(EventBatch(
        gate="north", sent_at=t, events=[camera(1, "lost", t)])), t)
    ingest(compound.db, [msg], policy, buggy.check())
    send(compound, "north", camera(2, "back", t + 60, lost_for_s=60.0))   # fixed hub
    compound.db.conn.commit()
    main = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", "from hub.cli import main; main()", "gate",
                          "reapply", "--home", str(compound.home.root)], capture_output=True,
                         text=True, cwd=main, env={"PYTHONDONTWRITEBYTECODE": "1",
                                                   "PYTHONPATH": main, "PATH": "/usr/bin:/bin"})
    print("\nhub gate reapply:", out.stdout.strip(), out.stderr.strip()[-300:])
    assert open_camera_alerts(compound.db) == []
