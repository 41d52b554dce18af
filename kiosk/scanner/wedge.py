"""A USB barcode gun (keyboard wedge) read through evdev, so it never types into the console."""

from __future__ import annotations

import logging
import select
import time
from typing import Iterable, Iterator

log = logging.getLogger(__name__)

# Linux input key codes (linux/input-event-codes.h) -> (plain, with shift), US layout, which
# is what scanner guns emit unless reprogrammed.
_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)",
    12: "-_", 13: "=+", 26: "[{", 27: "]}", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|",
    51: ",<", 52: ".>", 53: "/?", 57: "  ",
    55: "**", 71: "77", 72: "88", 73: "99", 74: "--", 75: "44", 76: "55", 77: "66",
    78: "++", 79: "11", 80: "22", 81: "33", 82: "00", 83: "..", 98: "//",
}
_LETTERS = {
    **{16 + i: c for i, c in enumerate("qwertyuiop")},
    **{30 + i: c for i, c in enumerate("asdfghjkl")},
    **{44 + i: c for i, c in enumerate("zxcvbnm")},
}
KEYMAP: dict[int, tuple[str, str]] = {
    **{code: (pair[0], pair[1]) for code, pair in _ROWS.items()},
    **{code: (c, c.upper()) for code, c in _LETTERS.items()},
}
SHIFT_KEYS = {42, 54}  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
CAPSLOCK = 58
ENTER_KEYS = {28, 96}  # KEY_ENTER, KEY_KPENTER
KEY_UP, KEY_DOWN, KEY_HOLD = 0, 1, 2
EV_SYN, SYN_DROPPED = 0, 3   # linux/input-event-codes.h: the kernel dropped events


class KeyDecoder:
    """Turns key events into whole codes: characters with shift applied, one code per Enter."""

    def __init__(self) -> None:
        self._shift: set[int] = set()
        self._caps = False
        self._chars: list[str] = []
        self._broken = False

    def lost(self, shift_down: set[int]) -> None:
        """The kernel dropped events (SYN_DROPPED: the reader fell behind a fast gun): the
        code being typed is missing characters. It is thrown away at its Enter, never
        decided on; the volunteer scans again. `shift_down`: the shift keys held now."""
        self._chars, self._broken = [], True
        self._shift = {k for k in shift_down if k in SHIFT_KEYS}

    def feed(self, code: int, value: int) -> str | None:
        """Take one key event (code, 0 up / 1 down / 2 repeat); return a code when Enter ends it."""
        if code in SHIFT_KEYS:
            if value == KEY_UP:
                self._shift.discard(code)
            else:
                self._shift.add(code)
            return None
        if value != KEY_DOWN:  # guns do not auto-repeat; a repeat is a stuck key, not data
            return None
        if code == CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in ENTER_KEYS:
            text, self._chars = "".join(self._chars), []
            if self._broken:
                self._broken = False
                log.warning("scanner gun: a code lost characters (the reader fell behind); "
                            "scan it again")
                return None
            return text or None
        pair = KEYMAP.get(code)
        if pair is None:
            return None
        upper = bool(self._shift)
        if code in _LETTERS and self._caps:
            upper = not upper
        self._chars.append(pair[1] if upper else pair[0])
        return None


def keys_to_codes(events: Iterable[tuple[int, int]]) -> Iterator[str]:
    """Yield the codes typed by a stream of (key code, value) events."""
    decoder = KeyDecoder()
    for code, value in events:
        text = decoder.feed(code, value)
        if text is not None:
            yield text


class ScannerUnavailable(RuntimeError):
    """The scanner gun cannot be read here; the text says why and what to do."""


def import_evdev():
    """The evdev module, or ScannerUnavailable saying how to get it on the gate."""
    try:
        import evdev  # type: ignore[import-not-found]
    except ImportError as error:
        # evdev has no wheels on PyPI (it builds against the kernel's headers); Debian
        # and Raspberry Pi OS ship it, and the gate's venv sees system site packages.
        raise ScannerUnavailable(
            f"the evdev module is missing ({error}): on the gate run 'sudo apt install "
            "python3-evdev' (the kiosk's venv uses --system-site-packages; elsewhere "
            "pip install evdev builds it), and give the kiosk's user read access to "
            "/dev/input (group 'input')") from error
    return evdev


class WedgeSource:
    """A scanner gun at /dev/input/eventN, grabbed so its keystrokes reach only us.

    >>> gun = WedgeSource("/dev/input/by-id/usb-scanner-event-kbd")  # doctest: +SKIP
    >>> gun.read(timeout=5)  # the code, once the gun sends Enter  # doctest: +SKIP
    'SF1234567890123'
    """

    def __init__(self, device: str, grab: bool = True) -> None:
        evdev = import_evdev()
        self._ecodes = evdev.ecodes
        self._device = evdev.InputDevice(device)
        try:
            if grab:
                self._device.grab()
        except BaseException:
            self._device.close()
            raise
        self._keys = KeyDecoder()
        self._ready: list[str] = []  # codes read in one go beyond the first

    def read(self, timeout: float | None = None) -> str | None:
        """The next whole code, or None when none came within *timeout* seconds.

        Raises OSError when the device goes away (unplugged)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self._device.fd], [], [], left)
            if not readable:
                return None
            try:
                events = list(self._device.read())
            except BlockingIOError:
                continue
            for event in events:
                if event.type == EV_SYN and event.code == SYN_DROPPED:
                    self._keys.lost(set(self._device.active_keys()))
                    continue
                if event.type != self._ecodes.EV_KEY:
                    continue
                text = self._keys.feed(event.code, event.value)
                if text is not None:
                    self._ready.append(text)
        return self._ready.pop(0)

    def close(self) -> None:
        """Release the grab and the device."""
        try:
            self._device.ungrab()
        except OSError:
            pass
        self._device.close()
