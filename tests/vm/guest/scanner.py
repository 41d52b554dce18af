#!/usr/bin/python3
"""A USB scanner gun for the VM: a virtual keyboard (uinput) that types whatever line is
written to /run/gatehouse-vm/scanner.fifo, then Enter, with a gun's key timing. It runs
from boot so the device exists before the kiosk starts, like a gun left plugged in."""
import os
import time

import evdev
from evdev import ecodes as e

FIFO = "/run/gatehouse-vm/scanner.fifo"
PLAIN = {**{c: getattr(e, f"KEY_{c.upper()}") for c in "abcdefghijklmnopqrstuvwxyz"},
         **{c: getattr(e, f"KEY_{c}") for c in "1234567890"},
         " ": e.KEY_SPACE, "-": e.KEY_MINUS, "=": e.KEY_EQUAL, "[": e.KEY_LEFTBRACE,
         "]": e.KEY_RIGHTBRACE, ";": e.KEY_SEMICOLON, "'": e.KEY_APOSTROPHE,
         "`": e.KEY_GRAVE, "\\": e.KEY_BACKSLASH, ",": e.KEY_COMMA, ".": e.KEY_DOT,
         "/": e.KEY_SLASH}
SHIFTED = {**{c.upper(): PLAIN[c] for c in "abcdefghijklmnopqrstuvwxyz"},
           **dict(zip('!@#$%^&*()', [PLAIN[c] for c in "1234567890"])),
           "_": e.KEY_MINUS, "+": e.KEY_EQUAL, "{": e.KEY_LEFTBRACE, "}": e.KEY_RIGHTBRACE,
           ":": e.KEY_SEMICOLON, '"': e.KEY_APOSTROPHE, "~": e.KEY_GRAVE, "|": e.KEY_BACKSLASH,
           "<": e.KEY_COMMA, ">": e.KEY_DOT, "?": e.KEY_SLASH}


def tap(ui, key: int, shift: bool) -> None:
    if shift:
        ui.write(e.EV_KEY, e.KEY_LEFTSHIFT, 1)
    ui.write(e.EV_KEY, key, 1)
    ui.syn()
    ui.write(e.EV_KEY, key, 0)
    if shift:
        ui.write(e.EV_KEY, e.KEY_LEFTSHIFT, 0)
    ui.syn()
    time.sleep(0.002)  # guns send a key every few milliseconds


def main() -> None:
    keys = sorted(set(PLAIN.values()) | {e.KEY_LEFTSHIFT, e.KEY_ENTER})
    # bustype USB with a vendor id, named like a gun, so udev gives it a by-id link
    # (see the image's 61-gatehouse-vm-scanner.rules).
    ui = evdev.UInput({e.EV_KEY: keys}, name="Gatehouse VM Barcode Scanner",
                      vendor=0x05E0, product=0x1200, bustype=e.BUS_USB)
    if not os.path.exists(FIFO):
        os.mkfifo(FIFO, 0o600)
    while True:
        with open(FIFO) as fifo:
            for line in fifo:
                for ch in line.rstrip("\n"):
                    if ch in PLAIN:
                        tap(ui, PLAIN[ch], False)
                    elif ch in SHIFTED:
                        tap(ui, SHIFTED[ch], True)
                tap(ui, e.KEY_ENTER, False)


if __name__ == "__main__":
    main()
