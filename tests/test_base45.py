import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatehouse.codes.base45 import b45decode, b45encode


@pytest.mark.parametrize("raw, text", [
    (b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"), (b"", ""),
])
def test_rfc9285_vectors(raw, text):
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@given(st.binary(max_size=300))
def test_round_trip(data):
    assert b45decode(b45encode(data)) == data


@pytest.mark.parametrize("bad", ["GGW", "A", "abc", "ZZZZ"])
def test_bad_text_is_a_value_error(bad):
    with pytest.raises(ValueError):
        b45decode(bad)
