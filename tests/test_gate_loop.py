"""One gate end to end, offline: file camera -> decoder -> attempt -> policy -> log -> pins."""
import sqlite3
import threading
import time

import pytest

from demo.scenes import phone_frame, showing, write_frames
from gatehouse.event_payloads import VisitorPayload
from gatehouse.events import EventKind
from gatehouse.policy import BuildingStatus
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import load_bundle
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import GateHardware, PinConfig
from kiosk.scanner import LatestFrame, make_decoder, open_source
from tests.conftest import ALICE_ID, BOB_ID, CHILD_ID, HOUR
from tests.gpio_fixtures import high_pulses, low_pulses, wait_for

RELAY, BUZZER, OVERRIDE = 17, 27, 24
PINS = PinConfig(unlock_seconds=0.3, contact_pin=None)


@pytest.fixture
def gate_parts(home, compound, authority, mock_pins, tmp_path):
    """A gate on mock pins, deciding with the compound's bundle, with a real clock."""
    import time
    now = time.time()
    # Issue everything relative to the real clock: the gate loop decides at "now".
    people = {
        "alice_pass": compound.issue_pass(ALICE_ID, "张三丰", "7", "302", int(now - 30 * 86400)),
        "alice_green": authority.health(ALICE_ID, _green(), int(now - HOUR),
                                        int(now - 20 * HOUR)),
        "alice_yellow": authority.health(ALICE_ID, _colour("YELLOW"), int(now - HOUR),
                                         int(now - 20 * HOUR)),
        "alice_red": authority.health(ALICE_ID, _colour("RED"), int(now - HOUR),
                                      int(now - 20 * HOUR)),
        "alice_expired": authority.health(ALICE_ID, _green(), int(now - 30 * HOUR),
                                          int(now - 40 * HOUR)),
        "alice_starred": authority.itinerary(ALICE_ID, ["上海", "苏州"], True,
                                             int(now - HOUR)),
        "bob_pass": compound.issue_pass(BOB_ID, "李四", "12", "1101", int(now - 30 * 86400)),
        "bob_green": authority.health(BOB_ID, _green(), int(now - HOUR), int(now - 20 * HOUR)),
        "child_pass": compound.issue_pass(CHILD_ID, "张小宝", "7", "302", int(now - 30 * 86400)),
        "child_green": authority.health(CHILD_ID, _green(), int(now - HOUR),
                                        int(now - 20 * HOUR)),
    }
    compound.publish(int(now))

    cameras = iter(range(100))

    def make(frames, direction="in", **cfg):
        folder = write_frames(tmp_path / f"cam{next(cameras)}", frames)
        config = KioskConfig(direction=direction, clock="trusted", attempt_window_s=1.0,
                             camera=f"file:{folder}?fps=30",
                             **cfg)
        hardware = GateHardware(PINS, mock_pins, description="mock pins (test)")
        store = AttemptLog(home.kiosk_db)
        gate = Gate(config=config, store=store, hardware=hardware,
                    decoder=make_decoder("pipeline"), load_bundle=lambda: load_bundle(home),
                    clock_trusted=lambda: True)
        return gate
    make.codes = people
    return make


def _green():
    from gatehouse.codes import Colour
    return Colour.GREEN


def _colour(name):
    from gatehouse.codes import Colour
    return Colour[name]


def play(gate: Gate, expect_attempts: int, timeout: float = 15.0) -> list[dict]:
    """Run the gate on its file camera until it has logged `expect_attempts` more attempts;
    returns the attempts of this run."""
    stop = threading.Event()
    frames = LatestFrame(open_source(gate.config.camera))
    thread = threading.Thread(target=gate.run, args=(frames, stop))
    thread.start()
    reader = sqlite3.connect(gate.store.path)  # the test's own connection, as a reader

    def logged() -> int:
        return reader.execute("select count(*) from attempts").fetchone()[0] - before
    before = 0
    before = logged()
    try:
        assert wait_for(lambda: logged() >= expect_attempts, timeout), \
            f"only {logged()} attempts logged"
    finally:
        stop.set()
        thread.join(5)
        frames.close()
        reader.close()
    return list(gate.store.db.query("select * from attempts order by seq"))[before:]


def relay_pulses(mock_pins):
    """Unlock pulses: the board is active-low, and a mock line starts low before the
    relay device drives it high (locked), so the history starts after that first change."""
    return low_pulses(mock_pins.pin(RELAY).states[1:])


def test_resident_with_pass_and_green_code_is_admitted_and_the_relay_pulses(gate_parts,
                                                                             mock_pins):
    c = gate_parts.codes
    gate = gate_parts(showing(c["alice_pass"], c["alice_green"]))
    attempts = play(gate, 1)
    assert [a["outcome"] for a in attempts] == ["admit"]
    assert attempts[0]["name"] == "张*丰" and attempts[0]["household"] == "7-302"
    assert wait_for(lambda: len(relay_pulses(mock_pins)) == 1, 2)
    assert relay_pulses(mock_pins)[0] == pytest.approx(0.3, abs=0.15)
    gate.close()
    assert mock_pins.pin(RELAY).state is True  # active-low board: high = locked


@pytest.mark.parametrize("shown", [("alice_pass", "alice_yellow"),
                                   ("alice_starred", "alice_pass", "alice_green")])
def test_yellow_or_starred_is_referred_and_the_door_stays_shut_until_override(
        gate_parts, mock_pins, shown):
    c = gate_parts.codes
    gate = gate_parts(showing(*(c[k] for k in shown)))
    attempts = play(gate, 1)
    assert attempts[0]["outcome"] == "refer"
    assert relay_pulses(mock_pins) == [] and not gate.hardware.door.is_unlocked
    mock_pins.pin(OVERRIDE).drive_low()  # the volunteer presses the override button
    mock_pins.pin(OVERRIDE).drive_high()
    gate.tick()
    assert wait_for(lambda: len(relay_pulses(mock_pins)) == 1, 2)
    events = list(gate.store.db.query("select * from events where kind = 'override'"))
    assert len(events) == 1 and events[0]["attempt_id"] == attempts[0]["id"]
    gate.close()


def test_override_without_a_referral_does_not_open_the_door(gate_parts, mock_pins):
    gate = gate_parts(showing())
    mock_pins.pin(OVERRIDE).drive_low()
    gate.tick()
    assert relay_pulses(mock_pins) == [] and not gate.hardware.door.is_unlocked
    gate.close()


@pytest.mark.parametrize("codes, reason", [
    (("alice_pass", "alice_red"), "HEALTH_RED"),
    (("alice_pass", "alice_expired"), "EXPIRED"),
    (("alice_pass", "bob_green"), "MISSING_CODE"),  # Bob's code starts Bob's attempt
    (("alice_pass", "FORGED"), "SIGNATURE_BAD"),
])
def test_refusals_keep_the_relay_shut(gate_parts, mock_pins, codes, reason):
    c = dict(gate_parts.codes)
    c["FORGED"] = _alter(c["alice_green"])
    gate = gate_parts(showing(*(c[k] for k in codes)))
    attempts = play(gate, 1)
    assert attempts[0]["outcome"] == "refuse" and reason in attempts[0]["reasons"]
    assert relay_pulses(mock_pins) == []
    gate.close()


def test_revoked_pass_is_refused(gate_parts, compound, mock_pins):
    c = gate_parts.codes
    import time
    pass_id = next(compound.db.query("select id from issued_codes where name = '张*丰'"))["id"]
    compound.revoke(pass_id, int(time.time()))
    gate = gate_parts(showing(c["alice_pass"], c["alice_green"]))
    assert "PASS_REVOKED" in play(gate, 1)[0]["reasons"]
    assert relay_pulses(mock_pins) == []
    gate.close()


def test_exit_from_a_sealed_building_is_refused(gate_parts, compound, mock_pins):
    import time
    compound.set_building("7", BuildingStatus.SEALED, int(time.time()))
    gate = gate_parts(showing(gate_parts.codes["alice_pass"]), direction="out")
    attempt = play(gate, 1)[0]
    assert attempt["outcome"] == "refuse" and "BUILDING_SEALED" in attempt["reasons"]
    assert relay_pulses(mock_pins) == []
    gate.close()


def test_a_parent_shows_a_childs_codes_after_their_own(gate_parts, mock_pins):
    c = gate_parts.codes
    gate = gate_parts(showing(c["alice_pass"], c["alice_green"], c["child_pass"],
                              c["child_green"]))
    attempts = play(gate, 2)
    assert [(a["name"], a["outcome"]) for a in attempts] == [("张*丰", "admit"),
                                                               ("张*宝", "admit")]
    assert wait_for(lambda: len(relay_pulses(mock_pins)) >= 1, 2)
    gate.close()


def test_buzzer_patterns_differ(gate_parts, mock_pins):
    c = gate_parts.codes
    gate = gate_parts(showing(c["alice_pass"], c["alice_green"]))
    play(gate, 1)
    assert wait_for(lambda: len(high_pulses(mock_pins.pin(BUZZER).states)) >= 1, 2)
    admit = high_pulses(mock_pins.pin(BUZZER).states)
    gate.close()
    mock_pins.reset()
    gate = gate_parts(showing(c["alice_pass"], c["alice_red"]))
    play(gate, 1)  # the log already holds the admit: wait for the second attempt
    assert wait_for(lambda: len(high_pulses(mock_pins.pin(BUZZER).states)) >= 3, 4)
    refuse = high_pulses(mock_pins.pin(BUZZER).states)
    gate.close()
    assert len(admit) == 1 and admit[0] < 0.3
    assert len(refuse) == 3 and min(refuse) > 0.4


def test_every_attempt_and_the_start_are_logged_with_the_outbox(gate_parts, mock_pins):
    c = gate_parts.codes
    gate = gate_parts(showing(c["alice_pass"], c["alice_green"], c["bob_pass"],
                              c["bob_green"], c["alice_pass"], c["alice_red"]))
    attempts = play(gate, 3)
    gate.close()
    db = gate.store.db
    assert [a["outcome"] for a in attempts] == ["admit", "admit", "refuse"]
    started = next(db.query("select * from events where kind = ?", [EventKind.STARTED.value]))
    assert '"relay_unlocked": false' in started["detail"]
    seqs = [r["seq"] for r in db.query("select seq from outbox order by seq")]
    assert seqs == list(range(1, len(seqs) + 1))  # one gap-free sequence for the hub
    assert {a["id"] for a in attempts} <= {r["id"] for r in db.query("select id from outbox")}
    assert all(a["policy_version"] == 1 and a["bundle_version"] >= 1 for a in attempts)
    raw = "".join(str(r) for r in db.query("select * from attempts"))
    assert c["alice_pass"][10:40] not in raw  # the log keeps no code text


def _alter(text: str) -> str:
    from gatehouse.codes.base45 import ALPHABET
    i = len(text) // 2
    return text[:i] + ALPHABET[(ALPHABET.index(text[i]) + 1) % 45] + text[i + 1:]


def test_a_full_disk_keeps_the_door_locked_and_the_gate_running(gate_parts, mock_pins):
    """SQLite cannot write (disk full): nobody is admitted, the loop survives, says so,
    and admits again once the log can be written."""
    c = gate_parts.codes
    gate = gate_parts(showing(c["alice_pass"], c["alice_green"]) + [phone_frame(None)] * 60
                      + showing(c["bob_pass"], c["bob_green"]))
    pages = gate.store.db.execute("pragma page_count").fetchone()[0]
    gate.store.db.execute(f"pragma max_page_count = {pages}")  # the disk is full…
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for _ in range(1000):                                   # …to the last page
            gate.store.log_event(EventKind.VISITOR, 2e9, VisitorPayload(
                name="x", host_household="1-1", purpose="x" * 120))
    stop = threading.Event()
    frames = LatestFrame(open_source(gate.config.camera))
    thread = threading.Thread(target=gate.run, args=(frames, stop))
    thread.start()
    try:
        assert wait_for(lambda: gate.fault is not None, 10)
        assert "full" in gate.fault and relay_pulses(mock_pins) == []
        assert thread.is_alive()
        gate.call(lambda: gate.store.db.execute("pragma max_page_count = 1000000"))
        assert wait_for(lambda: len(relay_pulses(mock_pins)) == 1, 15)  # Bob, logged
    finally:
        stop.set()
        thread.join(5)
        frames.close()
    names = [r["name"] for r in gate.store.db.query("select name from attempts")]
    assert names == ["李*"]
    gate.close()


def test_the_gate_forgets_what_the_hub_has_and_is_past_retention(gate_parts, mock_pins):
    gate = gate_parts(showing())
    store, now = gate.store, time.time()
    old_acked = store.log_event(EventKind.EXIT_REQUEST, now - 40 * 86400)
    old_unacked = store.log_event(EventKind.EXIT_REQUEST, now - 40 * 86400)
    recent = store.log_event(EventKind.EXIT_REQUEST, now - 86400)
    store.db.execute("update outbox set created_at = ? where id in (?, ?)",
                     [now - 40 * 86400, old_acked, old_unacked])
    store.db.execute("update outbox set acked_at = ? where id in (?, ?)",
                     [now, old_acked, recent])
    store.purge(now - 28 * 86400)
    kept = {r["id"] for r in store.db.query("select id from events")}
    assert old_acked not in kept and {old_unacked, recent} <= kept
    assert store.outbox.pending(0, 10)[-1].id == old_unacked  # never lost before the hub has it
    gate.close()
