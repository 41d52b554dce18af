import pytest
from pydantic import ValidationError

from gatehouse.policy import Policy
from gatehouse.policy.diff import diff


def test_defaults_are_valid_and_round_trip():
    p = Policy()
    assert Policy.from_json(p.to_json()) == p
    assert p.to_json()["buildings"]["sealed"] == {"in": "refer", "out": "refuse"}


@pytest.mark.parametrize("doc, field", [
    ({"tets": {}}, "tets"),                                   # a typo is not ignored
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"quota": {"allowed_from": "6am"}}, "allowed_from"),
    ({"health": {"red": "refer"}}, "red"),                    # red is always refused
    ({"buildings": {"normal": {}}}, "no rule for status"),
    ({"requirements": {"resident": {"in": ["health"], "out": []}}}, "requirements"),
])
def test_invalid_policies_name_the_field(doc, field):
    with pytest.raises(ValidationError, match=field):
        Policy.from_json(doc)


def test_diff_lists_only_what_changed():
    old = Policy(version=1)
    new = Policy(version=2, test={"mode": "calendar_days", "max_days": 3})
    assert [str(c) for c in diff(old, new)] == [
        "test.max_days: 2 -> 3", "test.mode: hours -> calendar_days"]
    assert diff(old, Policy(version=9)) == []
