"""Record one event of every kind as today's kiosk sends it, through its real code paths.

A gate at the entrance and a kiosk at the parcel area, each a real Gate with its own
SQLite log on mock pins, deciding with a compound's signed bundle: scans, the door's
callbacks, the volunteer screen's routes, the courier and pickup flows, as the kiosk
tests drive them. What comes out is each kiosk's outbox as its link would send it.

    .venv/bin/python -m tests.event_recorder tests/data/events_v2.jsonl

writes the kind of file tests/test_event_payloads.py replays at the hub: events from
gates that are not upgraded must still be understood. events_v1.jsonl was recorded
from the kiosk as it was before its payloads had models (commit c3730fa: this file
copied into `git archive c3730fa` unpacked, run from there), so it holds what gates in
the field send. events_v2.jsonl is today's kiosk (its `camera` events are new): record
a new file (events_v3.jsonl) when the kiosk changes what it sends; keep the old ones.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin

from gatehouse.codes import Colour
from gatehouse.home import Home, write_atomic
from gatehouse.parcels import Manifest, ShelfParcel, seal_manifest
from gatehouse.policy import Direction
from hub.authority import TestAuthority
from hub.compound import Compound
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import hub_key, load_bundle
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import DoorAlarm, GateHardware, PinConfig
from kiosk.manifest import ManifestCache
from kiosk.modes.courier import CourierMode
from kiosk.modes.entry import EntryMode
from kiosk.modes.pickup import PickupMode
from kiosk.scanner import make_decoder
from kiosk.visitors import register_visitor
from kiosk.web import create_app
from tests.test_camera_watch import missing_camera, plug_in

ENTRANCE, PARCEL_AREA = "gate-1", "parcels-1"
ALICE_ID, BOB_ID = "110101199003070011", "310104195812010025"   # made up (tests/conftest)
SF, JT = "SF1234567890123", "JT1234567890123"


@contextmanager
def _mock_pins() -> Iterator[MockFactory]:
    saved, Device.pin_factory = Device.pin_factory, MockFactory(pin_class=MockPin)
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = saved


def record(workdir: Path) -> list[dict]:
    """Lines of {"gate", "role", "event"}: every kind at least once, in outbox order."""
    t0 = time.time()
    home = Home.at(workdir / "home")
    compound = Compound.create(home, "测试小区", int(t0 - 30 * 86400))
    authority = TestAuthority.create(home)
    compound.trust(authority.trusted_key(), int(t0 - 30 * 86400))
    codes = {
        "alice_pass": compound.issue_pass(ALICE_ID, "张三丰", "7", "302", int(t0 - 86400)),
        "alice_green": authority.health(ALICE_ID, Colour.GREEN, int(t0 - 3600), int(t0 - 72000)),
        "bob_pass": compound.issue_pass(BOB_ID, "李四", "12", "1101", int(t0 - 86400)),
        "bob_yellow": authority.health(BOB_ID, Colour.YELLOW, int(t0 - 3600), int(t0 - 72000)),
        "bob_red": authority.health(BOB_ID, Colour.RED, int(t0 + 1), int(t0 - 72000)),
        "courier": compound.issue_courier("赵六", "顺丰速运", int(t0 - 60)),
    }
    vid = compound.add_volunteer("王阿姨", "2468", int(t0))
    compound.publish(int(t0))
    shelf = (ShelfParcel("p-sf", SF, "7-302", "B-1-01", "B-1-1001", t0 - 2400, carrier="顺丰速运"),
             ShelfParcel("p-jt", JT, "12-1101", "C-2-05", "C-2-1003", t0 - 2400))
    write_atomic(home.kiosk_manifest, seal_manifest(Manifest(5, t0, shelf), compound.key))
    clock = [t0]
    with _mock_pins() as pins:
        def kiosk(gate_id: str, role: str) -> Gate:
            return Gate(config=KioskConfig(gate_id=gate_id, role=role, clock="trusted",
                                           attempt_window_s=1.0),
                        store=AttemptLog(workdir / f"{gate_id}.db"),
                        hardware=GateHardware(PinConfig(unlock_seconds=0.3, contact_pin=None),
                                              pins, description="mock pins (recorder)"),
                        decoder=make_decoder("pipeline"), load_bundle=lambda: load_bundle(home),
                        clock_trusted=lambda: True, now=lambda: clock[0],
                        load_manifest=ManifestCache(home.kiosk_manifest, hub_key(home)).get)

        def later(seconds: float, gate: Gate) -> None:
            clock[0] += seconds
            gate.tick()

        def sent(gate: Gate, role: str) -> list[dict]:
            gate.close()                                         # stopped
            events = gate.store.outbox.pending(0, 10_000)
            gate.store.close()
            return [{"gate": gate.config.gate_id, "role": role,
                     "event": e.model_dump(mode="json")} for e in events]

        entrance = kiosk(ENTRANCE, "gate")                       # started
        _entrance(entrance, codes, vid, later)
        _camera_unplugged(entrance, later, workdir)
        lines = sent(entrance, "gate")   # one kiosk at a time: they share the mock pins
        area = kiosk(PARCEL_AREA, "parcels")                     # started
        area.desk.sign_in(vid, "2468", clock[0])
        area.scan(codes["alice_pass"])
        area.scan(SF)                                            # pickup: taken
        area.scan(JT)                                            # pickup: wrong
        area.modes.get(PickupMode).done(clock[0])
        for _ in range(5):                                       # pickup: codes_paused
            area.modes.get(PickupMode).key_code("Z-9-9999", clock[0])
        lines += sent(area, "parcels")
    return lines


def _entrance(gate: Gate, codes: dict, vid: str, later) -> None:
    """What happens at an entrance in one morning: people, the door, volunteers, a courier."""
    client = create_app(gate, token="t").test_client()
    # No gate loop runs here: what the screen hands to the loop's thread runs on this one.
    gate.call = lambda fn, timeout=5.0: fn()
    assert client.post("/api/signin", json={"volunteer": vid, "pin": "2468"},
                       headers={"X-CSRF-Token": "t"}).status_code == 200   # volunteer
    gate.scan(codes["alice_pass"])
    gate.scan(codes["alice_green"])                              # attempt: admit
    later(2, gate)
    gate.scan(codes["bob_pass"])
    gate.scan(codes["bob_yellow"])                               # attempt: refer
    later(2, gate)
    assert client.post("/api/referral", json={"decision": "admit", "reason": "identity_checked"},
                       headers={"X-CSRF-Token": "t"}).status_code == 200   # override
    later(2, gate)
    gate.scan(codes["bob_pass"])
    gate.scan(codes["bob_red"])                                  # attempt: refuse, alert
    later(2, gate)
    gate.hardware.door.on_exit_request()                         # exit_request
    gate.hardware.door.on_alarm(DoorAlarm.FORCED_OPEN, gate.now())   # door_forced
    gate.hardware.door.on_alarm(DoorAlarm.HELD_OPEN, gate.now())     # door_held
    later(1, gate)
    register_visitor(gate.store, gate.now(), vid, "王小五", "13800001234", "7-302", "探亲")  # visitor
    gate.modes.get(EntryMode).set_direction(Direction.OUT, vid)  # direction
    gate.scan(codes["courier"])                                  # courier_session: start
    gate.scan("SF5550001112223")                                 # parcel
    courier = gate.modes.get(CourierMode)
    courier.add_waybill("YT7712345678901", gate.now(), keyed_by=vid)  # parcel
    courier.undo_last(gate.now(), vid)                           # parcel_void
    courier.end(gate.now(), vid)                                 # courier_session: end
    assert client.post("/api/signout", headers={"X-CSRF-Token": "t"}).status_code == 200


def _camera_unplugged(gate: Gate, later, workdir: Path) -> None:
    """The camera missing, then plugged in: `camera` lost and back, as the gate loop's
    tick looks at its camera (no loop runs here, so the tick is the watch's own)."""
    source, folder, reader = missing_camera(workdir)
    gate.camera.tick(source, gate.now())                         # camera: lost
    later(40, gate)
    plug_in(workdir, folder, reader)
    gate.camera.tick(source, gate.now())                         # camera: back
    source.close()


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else Path("tests/data/events_v2.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        lines = record(Path(tmp))
    out.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    print(f"{len(lines)} events, {len({line['event']['kind'] for line in lines})} kinds: {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
