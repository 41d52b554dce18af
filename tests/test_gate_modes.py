"""The kiosk's modes (kiosk/modes/): one judge per scan, precedence in one list, and a new
mode that is its own class plus one line in that list, on a real Gate (mock pins, a real
SQLite log, the compound's signed bundle)."""
from __future__ import annotations

import json
import time

import pytest

from gatehouse.codes import Colour
from gatehouse.codes.format import CodeError
from gatehouse.home import write_atomic
from gatehouse.parcels import Manifest, ShelfParcel, seal_manifest
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import hub_key, load_bundle
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import GateHardware, PinConfig
from kiosk.manifest import ManifestCache
from kiosk.modes.base import Mode, Scan
from kiosk.modes.courier import CourierMode
from kiosk.modes.entry import EntryMode
from kiosk.modes.registry import REGISTERED
from kiosk.scanner import make_decoder
from kiosk.screen import snapshot
from tests.call_walk import bounces, calls_while
from tests.conftest import ALICE_ID, BOB_ID, HOUR
from tests.test_import_graph import import_graph

PINS = PinConfig(unlock_seconds=0.3, contact_pin=None)
SF = "SF1234567890123"


class Drill(Mode):
    """The smallest real mode: a drill card (text `DRILL`) puts the screen in a drill
    for a minute; the log keeps nothing and the door stays shut."""

    name = "drill"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.until: float | None = None

    def takes(self, scan: Scan) -> bool:
        return isinstance(scan.code, CodeError) and scan.text == "DRILL"

    def on_scan(self, scan: Scan) -> list:
        self.until = scan.now + 60
        return []

    def on_tick(self, now: float) -> None:
        if self.until is not None and now >= self.until:
            self.until = None
            self.ctx.changed()

    def screen_mode(self) -> str | None:
        return "drill" if self.until is not None else None

    def screen_state(self, now: float) -> dict:
        return {"drill": self.until is not None}


@pytest.fixture
def kiosk(home, compound, authority, mock_pins):
    now = time.time()
    codes = {"alice_pass": compound.issue_pass(ALICE_ID, "张三丰", "7", "302", int(now - 86400)),
             "alice_green": authority.health(ALICE_ID, Colour.GREEN, int(now - HOUR),
                                             int(now - 20 * HOUR)),
             "bob_pass": compound.issue_pass(BOB_ID, "李四", "12", "1101", int(now - 86400)),
             "courier": compound.issue_courier("赵六", "顺丰速运", int(now - 60)),
             "volunteer": compound.add_volunteer("王阿姨", "2468", int(now))}
    compound.publish(int(now))
    clock, made = [now], []

    def make(role: str = "gate", **kw) -> Gate:
        gate = Gate(config=KioskConfig(clock="trusted", attempt_window_s=5.0, role=role),
                    store=AttemptLog(home.kiosk_db),
                    hardware=GateHardware(PINS, mock_pins, description="mock pins (test)"),
                    decoder=make_decoder("pipeline"), load_bundle=lambda: load_bundle(home),
                    clock_trusted=lambda: True, now=lambda: clock[0], **kw)
        made.append(gate)
        return gate
    make.codes, make.clock = codes, clock
    yield make
    for g in made:
        g.close()
        g.store.close()


def test_a_scan_is_judged_once_with_one_look_at_the_log(kiosk):
    gate = kiosk()
    looks: list[str] = []
    gate.store.db.conn.set_trace_callback(looks.append)

    def history_queries() -> int:  # the person's last admission (kiosk/attempt_log.py)
        return sum("outcome = 'admit'" in q and "limit 1" in q for q in looks)
    gate.scan(kiosk.codes["alice_pass"])
    assert history_queries() == 1                   # judged once, the prompt included
    assert snapshot(gate)["prompt"]["missing"] == ["health"]
    gate.scan(kiosk.codes["alice_green"])
    assert history_queries() == 2 and gate.hardware.door.is_unlocked
    gate.store.db.conn.set_trace_callback(None)


def kiosk_calls_while(act) -> list[tuple[str, str, list[str]]]:
    return calls_while("kiosk", act)


def test_an_entry_attempt_walks_through_the_kiosk_in_one_direction(kiosk):
    """No module calls back into one below it (the tracker once called the gate's judge),
    and the gate is entered once per scan (docs/architecture.md, "Kiosk")."""
    gate = kiosk()
    calls = kiosk_calls_while(lambda: (gate.scan(kiosk.codes["alice_pass"]),
                                       gate.scan(kiosk.codes["alice_green"])))
    assert gate.hardware.door.is_unlocked
    assert bounces(calls) == []
    assert [fn for m, fn, below in calls if m == "gate.py" and "gate.py" not in below] == \
        ["scan", "scan"]


def test_a_pickup_walks_through_the_kiosk_in_one_direction(kiosk, home, compound):
    """At the parcel area: the pass opens the pickup, the label is checked and logged;
    the mode calls the desk, the desk never calls back, the gate only routes."""
    now = kiosk.clock[0]
    write_atomic(home.kiosk_manifest, seal_manifest(Manifest(5, now, (ShelfParcel(
        "p-sf", SF, "7-302", "B-1-01", "B-1-1001", now - 2400),)), compound.key))
    area = kiosk(role="parcels",
                 load_manifest=ManifestCache(home.kiosk_manifest, hub_key(home)).get)
    calls = kiosk_calls_while(lambda: (area.scan(kiosk.codes["alice_pass"]), area.scan(SF)))
    assert [json.loads(r["detail"])["outcome"] for r in area.store.db.query(
        "select detail from events where kind = 'pickup'")] == ["taken"]
    assert bounces(calls) == []
    assert [fn for m, fn, below in calls if m == "gate.py" and "gate.py" not in below] == \
        ["scan", "scan"]


def test_a_courier_badge_comes_before_the_entrance_and_a_pass_still_gets_decided(kiosk):
    gate = kiosk()
    gate.scan(kiosk.codes["courier"])
    assert snapshot(gate)["mode"] == "courier" and gate.store.count() == 0  # no red screen
    gate.scan(kiosk.codes["bob_pass"])    # a resident passing during the drop-off
    assert gate.modes.get(EntryMode).tracker.pending
    assert gate.modes.get(CourierMode).session.room == ""


def test_a_new_mode_is_its_class_and_one_line_in_the_list(kiosk):
    gate = kiosk(modes=(*REGISTERED[:-1], Drill, REGISTERED[-1]))
    gate.scan("DRILL")
    doc = snapshot(gate)
    assert doc["mode"] == "drill" and doc["drill"] is True
    gate.scan(kiosk.codes["alice_pass"])  # not the drill's: a person at the gate, as always
    gate.scan(kiosk.codes["alice_green"])
    assert gate.store.count() == 1 and snapshot(gate)["result"]["outcome"] == "admit"
    kiosk.clock[0] += 61
    gate.tick()
    assert snapshot(gate)["mode"] == "ready" and snapshot(gate)["drill"] is False
    assert "DRILL" not in json.dumps(list(gate.store.db.query("select * from events")))


def test_modes_reach_the_kiosk_only_through_their_context():
    graph = import_graph()
    modes = {name: deps for name, deps in graph.items() if name.startswith("kiosk.modes.")}
    assert modes and all(not ({"kiosk.gate", "kiosk.web", "kiosk.screen", "kiosk.runner",
                                "kiosk.link"} & deps) for deps in modes.values()), modes
