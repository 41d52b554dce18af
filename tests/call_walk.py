"""Which modules of one package a piece of code calls, and from where: the walks of an
entry attempt and of a parcel (docs/architecture.md) are checked with it."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def calls_while(package: str, act) -> list[tuple[str, str, list[str]]]:
    """(module, function, the package's modules below it on the stack) of each call into
    `package` while `act()` runs on this thread."""
    prefix = str(ROOT / package) + "/"
    calls = []

    def profile(frame, event, arg):
        if event != "call" or not frame.f_code.co_filename.startswith(prefix):
            return
        below, f = [], frame.f_back
        while f is not None:
            if f.f_code.co_filename.startswith(prefix):
                below.append(f.f_code.co_filename[len(prefix):])
            f = f.f_back
        calls.append((frame.f_code.co_filename[len(prefix):], frame.f_code.co_name, below))
    sys.setprofile(profile)
    try:
        act()
    finally:
        sys.setprofile(None)
    return calls


def bounces(calls) -> list[tuple[str, str]]:
    """Calls back into a module already below on the stack (a lambda handed in is a value)."""
    return [(m, fn) for m, fn, below in calls
            if below and below[0] != m and m in below and fn != "<lambda>"]
