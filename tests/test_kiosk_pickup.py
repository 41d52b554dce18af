"""The parcel-area kiosk (role "parcels"): a pass or a pickup code opens a pickup, the
screen names the slots, each parcel scanned is checked, a wrong one is flagged at once.

Rules as pure functions first; then a gate on mock pins with a real SQLite log and
the manifest signed by the compound's hub key; then `kiosk run` against Mosquitto;
then the screen in Chromium."""
import json
import re
import sqlite3
import time
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from demo.scenes import label_frame, phone_frame, write_frames
from gatehouse import topics
from gatehouse.codes import SigningKey
from gatehouse.endpoint import Endpoint
from gatehouse.home import write_atomic
from gatehouse.net import close_client
from gatehouse.parcels import Manifest, ShelfParcel, seal_manifest
from gatehouse.privacy import mask_household
from kiosk.attempt_log import AttemptLog
from kiosk.bundles import hub_key, load_bundle
from kiosk.config import KioskConfig
from kiosk.gate import Gate
from kiosk.gpio import GateHardware, PinConfig
from kiosk.manifest import ManifestCache, load_manifest
from kiosk.modes.pickup import PickupMode
from kiosk.pickup_desk import (
    CODE_PAUSE_S,
    IDLE_END_S,
    PickupDesk,
    Taken,
    Why,
    find_code,
    hold_clock,
    judge,
)
from kiosk.scanner import make_decoder
from kiosk.screen import snapshot
from tests.conftest import ALICE_ID, BOB_ID
from tests.gpio_fixtures import high_pulses, low_pulses, wait_for
from tests.processes import ScreenClient, kiosk_process, wait_until

RELAY, BUZZER = 17, 27
PINS = PinConfig(unlock_seconds=0.3, contact_pin=None)
NOW = 1_795_400_000.0
MIN = 60.0

# Alice's household (7-302): two ready (one fresh), one still standing its hold.
# Bob's (12-1101): one ready.
SF, YT, JT, JD = "SF1234567890123", "YT7712345678901", "JT1234567890123", "JDX000123456789"


def shelf(now: float) -> tuple[ShelfParcel, ...]:
    return (
        ShelfParcel("p-sf", SF, "7-302", "B-1-01", "B-1-1001", now - 40 * MIN,
                    carrier="顺丰速运"),
        ShelfParcel("p-yt", YT, "7-302", "B-1-02", "B-1-1002", now + 12 * MIN,
                    carrier="圆通速递"),
        ShelfParcel("p-jd", JD, "7-302", "A-1-01", "A-1-1004", now - 5 * MIN, fresh=True,
                    carrier="京东物流"),
        ShelfParcel("p-jt", JT, "12-1101", "C-2-05", "C-2-1003", now - 40 * MIN,
                    carrier="极兔速递"),
    )


def manifest(now: float = NOW, version: int = 5) -> Manifest:
    return Manifest(version, now, shelf(now))


# The rules, pure -----------------------------------------------------------------

@pytest.mark.parametrize("waybill, household, taken, why", [
    (SF, "7-302", (), None),
    (" sf1234567890123 ", "7-302", (), None),            # as a scanner gun or keypad sends it
    (JT, "7-302", (), Why.OTHER_HOUSEHOLD),
    (YT, "7-302", (), Why.ON_HOLD),
    ("SF9999999999999", "7-302", (), Why.NOT_ON_SHELF),
    (SF, "7-302", (("p-sf", SF),), Why.ALREADY_TAKEN),
    ("SF5555555555555", "7-302", (("gone", "SF5555555555555"),), Why.ALREADY_TAKEN),
    (JT, "7-302", (("p-jt", JT),), Why.ALREADY_TAKEN),  # taken beats "not yours"
])
def test_judge(waybill, household, taken, why):
    t = Taken()
    for pid, w in taken:
        t.add(pid, w)
    v = judge(manifest(), household, t, waybill, NOW)
    assert v.why is why and v.taken is (why is None)


def test_a_held_parcel_is_ready_at_its_hold_until_and_not_before():
    held = manifest().by_waybill(YT)
    assert judge(manifest(), "7-302", Taken(), YT, held.hold_until - 1).why is Why.ON_HOLD
    assert judge(manifest(), "7-302", Taken(), YT, held.hold_until).taken


def test_with_the_clock_in_doubt_holds_are_judged_by_the_hubs_time_never_ours():
    m = manifest()
    assert hold_clock(m, NOW + 3600, clock_trusted=False) == m.at  # ours ran ahead
    assert hold_clock(m, 1_000_000_000, clock_trusted=False) == 1_000_000_000  # or behind
    assert judge(m, "7-302", Taken(), YT, hold_clock(m, NOW + 3600, False)).why is Why.ON_HOLD


@pytest.mark.parametrize("text, slot", [("B-1-1001", "B-1-01"), ("b 1 1001", "B-1-01"),
                                        ("B11001", "B-1-01"), ("c-2-1003", "C-2-05"),
                                        ("B-1-9999", None), ("", None)])
def test_find_code(text, slot):
    p = find_code(manifest(), text)
    assert (p.slot if p else None) == slot


def test_five_wrong_codes_within_a_minute_pause_keyed_codes():
    desk = PickupDesk()
    desk.manifest = manifest()
    for i in range(4):
        r = desk.key_code("B-1-9999", NOW + i)
        assert r.reason == "unknown" and r.tries_left == 4 - i
    r = desk.key_code("B-1-9998", NOW + 5)
    assert r.reason == "paused" and r.paused_until == NOW + 5 + CODE_PAUSE_S
    assert desk.key_code("B-1-1001", NOW + 30).reason == "paused"   # even the right one
    assert desk.key_code("B-1-1001", NOW + 5 + CODE_PAUSE_S).ok


def test_wrong_codes_spread_over_more_than_a_minute_do_not_pause():
    desk = PickupDesk()
    desk.manifest = manifest()
    for i in range(10):
        assert desk.key_code("B-1-9999", NOW + i * 20).reason == "unknown"


def test_the_household_is_masked():
    assert mask_household("7-302") == "7-**2"
    assert mask_household("7-2-302") == "7-2-**2"
    assert mask_household("") == ""


# A gate at the parcel area: mock pins, a real SQLite log, the signed manifest -----

@pytest.fixture
def parcel_area(home, compound, mock_pins):
    """A parcels-role gate on mock pins; its clock is `area.clock[0]`."""
    now = time.time()
    codes = {"alice_pass": compound.issue_pass(ALICE_ID, "张三丰", "7", "302", int(now - 86400)),
             "bob_pass": compound.issue_pass(BOB_ID, "李四", "12", "1101", int(now - 86400)),
             "volunteer": compound.add_volunteer("王阿姨", "2468", int(now))}
    write_atomic(home.kiosk_manifest, seal_manifest(manifest(now), compound.key))
    clock = [now]
    made = []

    def make(**cfg):
        config = KioskConfig(**{"role": "parcels", "clock": "trusted", **cfg})
        hardware = GateHardware(PINS, mock_pins, description="mock pins (test)")
        gate = Gate(config=config, store=AttemptLog(home.kiosk_db), hardware=hardware,
                    decoder=make_decoder("pipeline"), load_bundle=lambda: load_bundle(home),
                    clock_trusted=lambda: True, now=lambda: clock[0],
                    load_manifest=ManifestCache(home.kiosk_manifest, hub_key(home)).get)
        made.append(gate)
        return gate
    make.codes, make.clock, make.t0 = codes, clock, now
    yield make
    for g in made:
        g.close()
        g.store.close()


def pickup_of(gate) -> PickupMode | None:
    """The parcel area's mode (None at a kiosk whose role does not run it)."""
    return gate.modes.get(PickupMode)


def pickups(gate) -> list[dict]:
    return [json.loads(r["detail"]) for r in gate.store.db.query(
        "select detail from events where kind = 'pickup' order by seq")]


def shown(gate) -> dict:
    return snapshot(gate, now=gate.now())["pickup"]


def relay_untouched(mock_pins) -> bool:
    return low_pulses(mock_pins.pin(RELAY).states[1:]) == []


def test_a_pass_opens_the_households_pickup_and_the_screen_names_the_slots(parcel_area,
                                                                           mock_pins):
    gate = parcel_area()
    assert snapshot(gate)["mode"] == "pickup" and snapshot(gate)["gate"]["role"] == "parcels"
    assert gate.scan(parcel_area.codes["alice_pass"]) == []
    pk = shown(gate)["pickup"]
    assert pk["household"] == "7-**2" and "7-302" not in json.dumps(shown(gate))
    rows = [(r["state"], r["slot"], r["code"]) for r in pk["parcels"]]
    assert rows == [("ready", "A-1-01", "A-1-1004"),  # fresh food first
                    ("ready", "B-1-01", "B-1-1001"),
                    ("held", None, None)]             # a held one: no slot, no code
    held = pk["parcels"][2]
    assert held["minutes_left"] == 12 and held["carrier"] == "圆通速递"
    assert relay_untouched(mock_pins) and gate.store.count() == 0  # no attempt, no door


def test_the_right_parcel_is_taken_and_logged_with_the_outbox(parcel_area, mock_pins):
    gate = parcel_area()
    vid = parcel_area.codes["volunteer"]
    gate.desk.sign_in(vid, "2468", gate.now())
    gate.scan(parcel_area.codes["alice_pass"])
    gate.scan(SF)                                     # as the camera reads the label
    [event] = pickups(gate)
    assert event == {"pickup": shown(gate)["pickup"]["id"], "parcel": "p-sf", "waybill": SF,
                     "household": "7-302", "code": "B-1-1001", "slot": "B-1-01",
                     "via": "pass", "outcome": "taken", "why": None, "volunteer": vid,
                     "manifest_version": 5}
    outbox = next(gate.store.db.query("select * from outbox where kind = 'pickup'"))
    assert json.loads(outbox["payload"])["parcel"] == "p-sf" and outbox["acked_at"] is None
    pk = shown(gate)["pickup"]
    assert [(r["slot"], r["state"]) for r in pk["parcels"] if r["state"] != "held"] == [
        ("A-1-01", "ready"), ("B-1-01", "taken")]
    assert pk["taken"] == 1 and shown(gate)["flash"] is None
    assert wait_for(lambda: len(high_pulses(mock_pins.pin(BUZZER).states)) == 1, 2)
    assert high_pulses(mock_pins.pin(BUZZER).states)[0] < 0.3   # one short beep
    gate.scan(SF)                 # the same label held up again: no red, no second event
    assert len(pickups(gate)) == 1 and shown(gate)["flash"] is None
    assert relay_untouched(mock_pins)


def test_another_households_parcel_is_flagged_at_once_with_the_right_slot(parcel_area,
                                                                          mock_pins):
    gate = parcel_area()
    gate.scan(parcel_area.codes["alice_pass"])
    gate.scan(JT)                                     # Bob's parcel
    [event] = pickups(gate)
    assert event["outcome"] == "wrong" and event["why"] == "other_household"
    assert event["parcel"] == "p-jt" and event["household"] == "7-302"
    assert event["volunteer"] is None
    flash = shown(gate)["flash"]
    assert flash["why"] == "other_household" and "不是您的包裹" in flash["zh"]
    assert flash["put_back"] == "C-2-05" and flash["right_slots"] == ["A-1-01", "B-1-01"]
    assert wait_for(lambda: len(high_pulses(mock_pins.pin(BUZZER).states)) >= 3, 4)
    assert min(high_pulses(mock_pins.pin(BUZZER).states)) > 0.4   # the refuse pattern
    # The red leaves with the countdown; the pickup stays open.
    gate.tick(gate.now() + gate.config.result_seconds)
    assert shown(gate)["flash"] is None and shown(gate)["pickup"]["ended"] is False
    assert relay_untouched(mock_pins)


def test_a_held_parcel_is_refused_until_its_hold_ends_then_taken(parcel_area):
    gate, clock = parcel_area(), parcel_area.clock
    gate.scan(parcel_area.codes["alice_pass"])
    gate.scan(YT)
    assert pickups(gate)[-1]["why"] == "on_hold"
    assert "还需静置 12 分钟" in shown(gate)["flash"]["zh"]
    clock[0] += 11 * MIN                              # still a minute to go
    gate.scan(parcel_area.codes["alice_pass"])        # back again (the last pickup idled out)
    gate.scan(YT)
    assert pickups(gate)[-1]["why"] == "on_hold"
    clock[0] = parcel_area.t0 + 12 * MIN              # its hold_until
    gate.scan(YT)
    assert pickups(gate)[-1]["outcome"] == "taken" and pickups(gate)[-1]["slot"] == "B-1-02"


def test_a_taken_parcel_is_not_offered_again_after_a_restart(parcel_area):
    gate = parcel_area()
    gate.scan(parcel_area.codes["alice_pass"])
    gate.scan(SF)
    gate.close()
    gate.store.close()
    gate = parcel_area()                              # same log, same (old) manifest
    assert pickup_of(gate).desk.key_code("B-1-1001", gate.now()).ok   # its code still opens Alice's
    slots = [r["slot"] for r in shown(gate)["pickup"]["parcels"]]
    assert "B-1-01" not in slots and "A-1-01" in slots
    gate.scan(SF)
    assert pickups(gate)[-1]["outcome"] == "wrong" and pickups(gate)[-1]["why"] == "already_taken"


def test_a_pickup_code_opens_the_whole_household_and_wrong_codes_pause(parcel_area):
    gate = parcel_area()
    r = pickup_of(gate).key_code("b-1-1001", gate.now())
    assert r.ok and r.parcel.slot == "B-1-01"
    pk = shown(gate)["pickup"]
    assert pk["via"] == "code" and {x["slot"] for x in pk["parcels"]} >= {"A-1-01", "B-1-01"}
    gate.scan(JD)
    assert pickups(gate)[-1]["via"] == "code" and pickups(gate)[-1]["outcome"] == "taken"
    for _ in range(5):
        r = pickup_of(gate).key_code("B-1-0000", gate.now())
    assert r.reason == "paused" and shown(gate)["paused_s"] == 60
    assert not pickup_of(gate).key_code("C-2-1003", gate.now()).ok
    # The office hears of the guessing once, not for every refused code.
    assert [p["wrong_codes"] for p in pickups(gate) if p["outcome"] == "codes_paused"] == [5]
    gate.scan(parcel_area.codes["bob_pass"])          # a pass still works meanwhile
    assert shown(gate)["pickup"]["household"] == "12-***1"
    parcel_area.clock[0] += 61
    gate.tick()
    assert shown(gate)["paused_s"] == 0
    assert pickup_of(gate).key_code("C-2-1003", gate.now()).ok


def test_a_pickup_ends_when_done_or_idle_and_the_household_leaves_the_screen(parcel_area):
    gate, clock = parcel_area(), parcel_area.clock
    gate.scan(parcel_area.codes["alice_pass"])
    clock[0] += IDLE_END_S + 1
    gate.tick()
    assert shown(gate)["pickup"]["ended"] is True
    gate.scan(SF)                                     # no pickup open: nothing is logged
    assert pickups(gate) == [] and "出入证" in shown(gate)["notice"]["zh"]
    clock[0] += gate.config.result_seconds
    gate.tick()
    assert shown(gate)["pickup"] is None
    gate.scan(parcel_area.codes["bob_pass"])
    assert pickup_of(gate).done(gate.now())
    clock[0] += gate.config.result_seconds
    gate.tick()
    assert shown(gate)["pickup"] is None


def test_the_next_residents_pass_starts_their_own_pickup(parcel_area):
    gate = parcel_area()
    gate.scan(parcel_area.codes["alice_pass"])
    gate.scan(parcel_area.codes["bob_pass"])
    gate.scan(JT)
    assert pickups(gate)[-1]["household"] == "12-1101"
    assert pickups(gate)[-1]["outcome"] == "taken"


def test_the_camera_reads_the_pass_and_then_the_label(parcel_area, mock_pins):
    gate = parcel_area()
    for image in [phone_frame(parcel_area.codes["alice_pass"])] * 2 + [label_frame(SF)] * 2:
        gate.handle_frame(image)
    assert [(e["waybill"], e["outcome"]) for e in pickups(gate)] == [(SF, "taken")]
    assert relay_untouched(mock_pins)


def test_a_courier_badge_still_opens_a_drop_off_at_the_parcel_area(parcel_area, compound):
    gate = parcel_area()
    badge = compound.issue_courier("赵六", "顺丰速运", int(time.time()) - 60)
    gate.scan(badge)
    gate.scan("SF5550001112223")
    assert snapshot(gate)["mode"] == "courier"
    parcels = list(gate.store.db.query("select detail from events where kind = 'parcel'"))
    assert len(parcels) == 1 and pickups(gate) == []


def test_without_a_manifest_yet_a_pass_opens_nothing(parcel_area, home):
    home.kiosk_manifest.unlink()
    gate = parcel_area()
    gate.scan(parcel_area.codes["alice_pass"])
    assert shown(gate)["pickup"] is None and shown(gate)["manifest_version"] is None
    assert "包裹清单" in shown(gate)["notice"]["zh"]
    assert pickup_of(gate).desk.key_code("B-1-1001", gate.now()).reason == "no_manifest"


def test_a_revoked_pass_opens_nothing(parcel_area, compound):
    pass_id = next(compound.db.query("select id from issued_codes where name = '张*丰'"))["id"]
    compound.revoke(pass_id, int(time.time()))
    gate = parcel_area()
    gate.scan(parcel_area.codes["alice_pass"])
    assert shown(gate)["pickup"] is None and "失效" in shown(gate)["notice"]["zh"]


def test_a_kiosk_at_a_gate_hands_out_nothing(parcel_area):
    gate = parcel_area(role="gate")
    assert pickup_of(gate) is None and snapshot(gate)["mode"] == "ready"
    assert snapshot(gate)["pickup"] is None


# Over a real Mosquitto: the hub's retained manifest reaches a parcel-area kiosk ------

def hub_client(compound) -> mqtt.Client:
    """A client with the hub's login: the only one the broker lets publish under hub/."""
    ep = Endpoint.read(compound.home.hub_mqtt)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-hub", protocol=mqtt.MQTTv5)
    c.username_pw_set(ep.username, ep.password)
    c.connect(ep.host, ep.port)
    c.loop_start()
    return c


def publish(client, blob: bytes) -> None:
    client.publish(topics.HUB_PARCELS, blob, qos=1, retain=True).wait_for_publish(5)


def test_the_link_keeps_only_newer_manifests_signed_by_the_hub(compound, gate_home):
    from kiosk.clock import ClockJudge
    from kiosk.link import HubLink, LinkConfig
    kh = gate_home("parcels-1")
    ep = Endpoint.read(kh.kiosk_mqtt)
    hub = hub_client(compound)
    publish(hub, seal_manifest(manifest(time.time(), 5), compound.key))  # retained, before
    link = HubLink(LinkConfig("parcels-1", ep.host, ep.port, ep.username, ep.password,
                              role="parcels"), kh.kiosk_db, kh.kiosk_bundle, hub_key(kh),
                   ClockJudge("auto"), manifest_path=kh.kiosk_manifest)
    link.start()
    try:
        wait_until(lambda: link.state.manifest_version == 5, 10, message="manifest 5")
        assert load_manifest(kh.kiosk_manifest, hub_key(kh)).version == 5
        publish(hub, seal_manifest(manifest(time.time(), 9), SigningKey.generate()))  # forged
        publish(hub, seal_manifest(manifest(time.time(), 3), compound.key))          # older
        publish(hub, b"\x00not cose")
        wait_until(lambda: link.state.rejected_manifests == 3, 10, message="3 refusals")
        assert load_manifest(kh.kiosk_manifest, hub_key(kh)).version == 5
        publish(hub, seal_manifest(manifest(time.time(), 6), compound.key))
        wait_until(lambda: link.state.manifest_version == 6, 10, message="manifest 6")
    finally:
        link.stop()
        close_client(hub)
    # A new link starts from the saved version: the retained (older) copy is refused.
    assert HubLink(LinkConfig("parcels-1", "127.0.0.1", 1, "u", "p", role="parcels"),
                   kh.kiosk_db, kh.kiosk_bundle, hub_key(kh), ClockJudge("auto"),
                   manifest_path=kh.kiosk_manifest).state.manifest_version == 6


def test_a_gate_kiosk_does_not_take_the_manifest(compound, gate_home):
    from kiosk.clock import ClockJudge
    from kiosk.link import HubLink, LinkConfig
    kh = gate_home("gate-1")
    ep = Endpoint.read(kh.kiosk_mqtt)
    hub = hub_client(compound)
    publish(hub, seal_manifest(manifest(time.time(), 5), compound.key))
    link = HubLink(LinkConfig("gate-1", ep.host, ep.port, ep.username, ep.password),
                   kh.kiosk_db, kh.kiosk_bundle, hub_key(kh), ClockJudge("auto"))
    link.start()
    try:
        wait_until(lambda: link.state.connected, 10, message="connected")
        time.sleep(0.5)
        assert not kh.kiosk_manifest.exists() and link.state.manifest_version == 0
    finally:
        link.stop()
        close_client(hub)


class Screen(ScreenClient):
    """The screen's JSON API of a `kiosk run` process (its port is in its log)."""

    def __init__(self, proc):
        wait_until(lambda: "volunteer screen at" in proc.output(), 20, message="screen up")
        super().__init__(re.search(r"volunteer screen at (\S+)", proc.output()).group(1))
        assert self.up()


def test_kiosk_run_as_a_parcel_area_takes_the_hubs_manifest_and_keeps_it_offline(
        compound, broker_proc, gate_home, tmp_path):
    kh = gate_home("parcels-1")
    vid = compound.add_volunteer("王阿姨", "2468", int(time.time()))
    write_atomic(kh.kiosk_bundle, compound.home.hub_bundle.read_bytes())  # had one before
    (kh.kiosk / "config.toml").write_text('role = "parcels"\ngate_id = "parcels-1"\n')
    camera = f"file:{write_frames(tmp_path / 'cam', [phone_frame(None)] * 3)}?fps=5"
    hub = hub_client(compound)
    publish(hub, seal_manifest(manifest(time.time(), 5), compound.key))
    proc = kiosk_process(kh, camera, tmp_path / "kiosk1.log").start()
    try:
        wait_until(lambda: kh.kiosk_manifest.exists(), 15, message="manifest saved")
        screen = Screen(proc)
        wait_until(lambda: screen.state()["pickup"]["manifest_version"] == 5, 10,
                   message="the kiosk hands out from version 5")
        publish(hub, seal_manifest(manifest(time.time(), 9), SigningKey.generate()))
        wait_until(lambda: "refused a shelf manifest" in proc.output(), 10, message="refusal")
        assert load_manifest(kh.kiosk_manifest, hub_key(kh)).version == 5
        assert screen.state()["pickup"]["manifest_version"] == 5
        # A resident keys the code from the SMS; a volunteer keys the label's number.
        status, r = screen.post("api/pickup", {"code": "B-1-1001"})
        assert (status, r["slot"]) == (200, "B-1-01")
        assert screen.post("api/pickup", {"waybill": SF})[0] == 401   # nobody signed in
        forged = urllib.request.Request(screen.url + "api/pickup", method="POST",
                                        data=b'{"code": "B-1-1001"}',
                                        headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError, match="403"):   # no CSRF token
            urllib.request.urlopen(forged, timeout=5)
        assert screen.post("api/signin", {"volunteer": vid, "pin": "2468"})[0] == 200
        status, r = screen.post("api/pickup", {"waybill": SF})
        assert (status, r["outcome"]) == (200, "taken")
    finally:
        assert proc.stop() == 0
        close_client(hub)
    db = sqlite3.connect(kh.kiosk_db)
    [payload] = [json.loads(r[0]) for r in db.execute(
        "select payload from outbox where kind = 'pickup'")]
    db.close()
    assert payload["outcome"] == "taken" and payload["volunteer"] == vid

    # The broker is down: a restart hands out from the saved copy, minus what it handed out.
    broker_proc.stop()
    proc = kiosk_process(kh, camera, tmp_path / "kiosk2.log").start()
    try:
        screen = Screen(proc)
        state = screen.state()
        assert state["status"]["hub"] == "offline" and state["pickup"]["manifest_version"] == 5
        status, r = screen.post("api/pickup", {"code": "B11001"})
        assert status == 200
        parcels = screen.state()["pickup"]["pickup"]["parcels"]
        assert [p["slot"] for p in parcels if p["state"] == "ready"] == ["A-1-01"]
    finally:
        assert proc.stop() == 0


# The screen, in Chromium ----------------------------------------------------------

def test_the_pickup_screen_key_a_code_see_the_slot_take_the_parcel(home, compound,
                                                                    kiosk_screen, page):
    now = time.time()
    vid = compound.add_volunteer("王阿姨", "2468", int(now))
    write_atomic(home.kiosk_manifest, seal_manifest(manifest(now), compound.key))
    k = kiosk_screen(home, [phone_frame(None)] * 15, role="parcels")
    page.goto(k.url)
    page.wait_for_selector("body[data-mode='pickup']", timeout=15000)
    assert "取件码" in page.inner_text("#pk-idle")
    for key in "B-1-1001":                           # the shelf letters come from the manifest
        page.click(f"#pickup [data-key='{key}']")
    assert page.inner_text("#pk-code") == "B-1-1001"
    page.click("#pickup [data-key='OK']")
    page.wait_for_selector("#pk-list li.pk-ready", timeout=5000)
    assert page.inner_text("#pk-household") == "7-**2"
    slots = page.locator("#pk-list li.pk-ready .pk-slot").all_inner_texts()
    assert slots == ["A-1-01", "B-1-01"]
    assert "还需静置 12 分钟" in page.inner_text("#pk-list li.pk-held")
    # The label will not scan: a signed-in volunteer keys its number.
    page.click("#b-signin")
    page.click(f"[data-volunteer='{vid}']")
    for digit in "2468":
        page.click(f"#o-body [data-key='{digit}']")
    page.click("#o-body [data-key='OK']")
    page.wait_for_selector("#b-waybill:not([hidden])", timeout=5000)
    page.click("#b-waybill")
    page.fill("#wb-input", SF)
    page.click("#wb-ok")
    page.wait_for_selector("#pk-list li.pk-taken", timeout=5000)
    assert "✓" in page.inner_text("#pk-list li.pk-taken")
    assert "B-1-01" in page.inner_text("#pk-list li.pk-taken")
    # Bob's parcel: the screen turns red at once and names where Alice's is.
    page.click("#b-waybill")
    page.fill("#wb-input", JT)
    page.click("#wb-ok")
    page.wait_for_selector("body.pk-wrong #pk-flash:not([hidden])", timeout=5000)
    assert "不是您的包裹" in page.inner_text("#pk-flash-word")
    assert "C-2-05" in page.inner_text("#pk-flash-slots")   # put it back there
    assert "A-1-01" in page.inner_text("#pk-flash-slots")   # yours is here
    page.click("#pk-done")
    page.wait_for_function("document.getElementById('pk-summary').textContent.includes('已完成')",
                           timeout=5000)
    assert low_pulses(k.pins.pin(RELAY).states[1:]) == []


def test_wrong_codes_shown_to_the_camera_count_like_keyed_ones(parcel_area):
    gate = parcel_area()
    for n in range(5):
        gate.scan(f"B-1-{9000 + n}")         # a phone screen cycling made-up codes
    assert shown(gate)["paused_s"] == 60
    assert not pickup_of(gate).key_code("B-1-1001", gate.now()).ok


# Review of session 4, finding 10: the courier mode at the parcel area ---------------

def test_a_parcel_on_the_shelves_scanned_during_a_drop_off_is_a_pickup_not_an_arrival(
        parcel_area, compound):
    gate = parcel_area()
    gate.scan(compound.issue_courier("赵六", "顺丰速运", int(time.time()) - 60))
    gate.scan(parcel_area.codes["alice_pass"])      # Alice comes for her parcels meanwhile
    gate.scan(SF)                                   # her parcel, already on the shelf
    gate.scan("B-1-1002")                           # a pickup code shown as a QR
    gate.scan("SF5550001112223")                    # the courier's next new waybill
    arrivals = [json.loads(r["detail"])["waybill"] for r in gate.store.db.query(
        "select detail from events where kind = 'parcel'")]
    assert arrivals == ["SF5550001112223"]
    assert [(e["waybill"], e["outcome"]) for e in pickups(gate)][0] == (SF, "taken")


def test_a_revoked_courier_badge_opens_no_drop_off_and_says_why(parcel_area, compound):
    badge = compound.issue_courier("赵六", "顺丰速运", int(time.time()) - 60)
    badge_id = next(compound.db.query(
        "select id from issued_codes where kind = 'courier' order by issued_at desc"))["id"]
    compound.revoke(badge_id, int(time.time()))     # publishes the next bundle
    gate = parcel_area()
    gate.scan(badge)
    assert "注销" in shown(gate)["notice"]["zh"]
    gate.scan("SF5550001112223")
    assert snapshot(gate)["mode"] != "courier"
    assert list(gate.store.db.query("select 1 from events where kind = 'parcel'")) == []


def test_a_badge_revoked_while_its_drop_off_is_open_ends_it(parcel_area, compound, home):
    badge = compound.issue_courier("赵六", "顺丰速运", int(time.time()) - 60)
    gate = parcel_area()
    gate.scan(badge)
    assert snapshot(gate)["mode"] == "courier"
    badge_id = next(compound.db.query(
        "select id from issued_codes where kind = 'courier' order by issued_at desc"))["id"]
    compound.revoke(badge_id, int(time.time()))     # publishes the next bundle
    for _ in range(2):                              # one tick reads it, the next acts on it
        parcel_area.clock[0] += 1
        gate.tick()
    assert snapshot(gate)["mode"] != "courier"
    ends = [json.loads(r["detail"]) for r in gate.store.db.query(
        "select detail from events where kind = 'courier_session'")]
    assert ends[-1]["action"] == "end" and ends[-1]["by"] == "revoked"
