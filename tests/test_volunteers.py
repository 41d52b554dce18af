"""Volunteer PINs: hashed at the hub, carried to every gate in the signed bundle."""
import pytest

from gatehouse.volunteer_pins import check_pin, hash_pin
from hub.compound import HubError
from kiosk.bundles import load_bundle
from tests.conftest import T0


def test_pin_hash_checks_only_the_right_pin():
    h = hash_pin("2468", iterations=1000)
    assert check_pin("2468", h) and not check_pin("2469", h)
    assert not check_pin("2468", "garbage") and not check_pin("", h)
    assert hash_pin("2468", iterations=1000) != h  # salted


@pytest.mark.parametrize("pin", ["12", "abcd", "123456789", ""])
def test_bad_pins_are_refused(compound, pin):
    with pytest.raises(HubError, match="4 to 8 digits"):
        compound.add_volunteer("王阿姨", pin, T0)


def test_volunteers_reach_the_gate_and_a_disabled_one_is_gone(compound, home):
    vid = compound.add_volunteer("王阿姨", "2468", T0, "lead")
    other = compound.add_volunteer("李叔叔", "1357", T0)
    gate_view = {v.id: v for v in load_bundle(home).volunteers}
    assert gate_view[vid].name == "王*姨" and gate_view[vid].role == "lead"
    assert check_pin("2468", gate_view[vid].pin_hash)
    assert "2468" not in str(load_bundle(home).to_json())
    compound.disable_volunteer(other, T0)
    assert [v.id for v in load_bundle(home).volunteers] == [vid]


def _desk(n=3):
    from gatehouse.bundle import Volunteer
    from kiosk.volunteers import Desk
    desk = Desk()
    desk.update(tuple(Volunteer(f"v{i}", f"志愿者{i}", "x") for i in range(n)))
    return desk


def test_wrong_pins_across_names_pause_the_whole_screen_longer_each_time():
    desk = _desk(6)
    # Someone tries four PINs for each name: never five for one, ten on the screen.
    tries = [desk.record(f"v{i % 3}", False, T0 + i) for i in range(10)]
    assert [r.reason for r in tries[:9]] == ["wrong_pin"] * 9
    assert tries[9].reason == "paused" and tries[9].locked_until == T0 + 9 + 60
    assert desk.record("v2", True, T0 + 30).reason == "paused"     # even the right PIN
    assert desk.record("v2", True, T0 + 70).ok
    desk.sign_out()
    assert desk.record("v0", False, T0 + 100).reason == "locked"  # v0's fifth: its own limit
    more = [desk.record(f"v{3 + i % 3}", False, T0 + 200 + i) for i in range(9)]
    assert [r.reason for r in more[:8]] == ["wrong_pin"] * 8
    assert more[8].reason == "paused"                             # 1 + 9 on the screen
    assert more[8].locked_until == T0 + 208 + 120                 # the second pause: doubled


def test_lockouts_and_pauses_survive_a_restart_through_the_gates_log():
    desk = _desk()
    history = []
    for i in range(5):
        r = desk.record("v0", False, T0 + i)
        history.append((T0 + i, "v0", "sign_in" if r.ok else r.reason))
    assert history[-1][2] == "locked"
    restarted = _desk()
    restarted.replay(history, T0 + 60)
    assert restarted.record("v0", True, T0 + 61).reason == "locked"
    assert restarted.record("v1", True, T0 + 62).ok                # others unaffected
    assert _desk().record("v0", True, T0 + 61).ok                  # (without the replay)
    healed = _desk()
    healed.replay(history, T0 + 16 * 60)
    assert healed.record("v0", True, T0 + 16 * 60).ok


def test_a_restarted_kiosk_still_refuses_a_locked_volunteer(compound, home, kiosk_screen):
    import json
    import re
    import urllib.error
    import urllib.request

    from demo.scenes import phone_frame
    vid = compound.add_volunteer("王阿姨", "2468", T0)

    def sign_in(url, pin):
        token = re.search(r'name="csrf-token" content="([^"]+)"',
                          urllib.request.urlopen(url).read().decode()).group(1)
        req = urllib.request.Request(url + "api/signin", json.dumps(
            {"volunteer": vid, "pin": pin}).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        try:
            return json.loads(urllib.request.urlopen(req).read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())
    k = kiosk_screen(home, [phone_frame(None)] * 5)
    reasons = [sign_in(k.url, "1111")["reason"] for _ in range(5)]
    assert reasons[-1] == "locked"
    k.stop()
    k2 = kiosk_screen(home, [phone_frame(None)] * 5)
    assert sign_in(k2.url, "2468")["reason"] == "locked"
