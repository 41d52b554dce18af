"""Key events from a scanner gun become whole codes."""

import pytest

from kiosk.scanner.wedge import (
    KEY_DOWN,
    KEY_UP,
    ScannerUnavailable,
    WedgeSource,
    keys_to_codes,
)

SHIFT, ENTER, KP_ENTER = 42, 28, 96
KEYS = {**{c: k for k, c in enumerate("1234567890", start=2)}, "-": 12, "s": 31, "f": 33, "j": 36, "d": 32}


def typed(text: str, enter: int = ENTER) -> list[tuple[int, int]]:
    """Return the events a gun sends for text: shift held for capitals, then Enter."""
    events = []
    for char in text:
        code = KEYS[char.lower()]
        if char.isupper():
            events += [(SHIFT, KEY_DOWN), (code, KEY_DOWN), (code, KEY_UP), (SHIFT, KEY_UP)]
        else:
            events += [(code, KEY_DOWN), (code, KEY_UP)]
    return events + [(enter, KEY_DOWN), (enter, KEY_UP)]


def test_shifted_letters_digits_and_dashes():
    assert list(keys_to_codes(typed("JD0012345678901-1-1-"))) == ["JD0012345678901-1-1-"]


def test_one_code_per_enter_including_keypad_enter():
    events = typed("SF123") + typed("sf45", enter=KP_ENTER)
    assert list(keys_to_codes(events)) == ["SF123", "sf45"]


def test_shifted_symbols_and_lone_enter():
    events = [(SHIFT, KEY_DOWN), (3, KEY_DOWN), (3, KEY_UP), (SHIFT, KEY_UP), (ENTER, KEY_DOWN)]
    events += [(ENTER, KEY_DOWN)]  # an empty line is not a code
    assert list(keys_to_codes(events)) == ["@"]


def test_without_evdev_the_gun_says_what_to_install():
    try:
        import evdev  # noqa: F401
    except ImportError:
        with pytest.raises(ScannerUnavailable, match="apt install python3-evdev"):
            WedgeSource("/dev/input/event0")
    else:
        pytest.skip("evdev is installed here")


def test_a_code_that_lost_characters_is_thrown_away_and_the_next_is_read():
    """The kernel drops a fast gun's events when the reader falls behind (SYN_DROPPED):
    what is left of that code is never decided on (it would be refused as forged)."""
    from kiosk.scanner.wedge import KeyDecoder
    keys = KeyDecoder()
    first, second = typed("SF12345"), typed("SF678")
    got = [keys.feed(c, v) for c, v in first[:9]]
    keys.lost({SHIFT})                      # shift held at the moment of the drop
    got += [keys.feed(c, v) for c, v in first[-6:]]   # the tail of the broken code
    got += [keys.feed(c, v) for c, v in second]
    assert [g for g in got if g] == ["SF678"]
