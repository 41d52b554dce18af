"""The household key (gatehouse/households.py): one key from a pass, a residents row
and a room keyed at the gate."""
from gatehouse.codes.kinds import Pass
from gatehouse.households import household_key, parse_room


def test_the_household_key_is_the_same_from_a_pass_a_residents_row_and_a_keyed_room():
    claims = Pass(person_ref=b"\0" * 12, name="张*", building="7", unit="2", room="301")
    assert claims.household == household_key("7", "2", "301") == "7-2-301"
    assert parse_room("07栋02单元0301室") == ("7-2-301", "7")
    assert parse_room("7-301") == ("7-301", "7")
    assert parse_room("robert'); drop table") is None
