"""Volunteer PINs: hashed at the hub, carried to every gate in the signed bundle."""
import pytest

from gatehouse.pins import check_pin, hash_pin
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
