"""Whether this gate's clock can be trusted: a Raspberry Pi has no real-time clock.

After a power cut the Pi boots with the time it last saved, until NTP (or the hub)
sets it. The kernel knows: adjtimex() reports "unsynchronised" until a time daemon
has disciplined the clock, which is what `timedatectl` shows as "synchronized".
"""
from __future__ import annotations

import ctypes
import ctypes.util
from enum import Enum

TIME_ERROR = 5  # adjtimex return value: clock not synchronised


class ClockState(str, Enum):
    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>: 'modes' first; 200 bytes is larger than any ABI's.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 200)]


def kernel_clock_synced() -> bool:
    """True when the kernel says a time daemon has synchronised the clock."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()  # modes = 0: read only
        return libc.adjtimex(ctypes.byref(tx)) not in (-1, TIME_ERROR)
    except (OSError, AttributeError):
        return False


def clock_state(setting: str = "auto") -> ClockState:
    """'trusted' / 'untrusted' force a state (tests, --at); 'auto' asks the kernel."""
    if setting in ("trusted", "untrusted"):
        return ClockState(setting)
    if setting != "auto":
        raise ValueError("clock setting is auto, trusted or untrusted")
    return ClockState.TRUSTED if kernel_clock_synced() else ClockState.UNTRUSTED
