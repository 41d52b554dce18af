"""Whether this gate's clock can be trusted: a Raspberry Pi has no real-time clock.

After a power cut the Pi boots with the time it last saved, until NTP (or the hub)
sets it. The kernel knows: adjtimex() reports "unsynchronised" until a time daemon
has disciplined the clock, which is what `timedatectl` shows as "synchronized".
"""
from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
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



class ClockJudge:
    """Trusts the clock when the kernel is synchronised or the hub's signed time agrees.

    The hub is the compound's time reference: its beacon (topic hub/time) tells the
    gate how far off it is. A beacon older than `max_age` no longer vouches; a recent
    one that disagrees by more than `tolerance` makes the clock untrusted, whatever
    the kernel thinks.
    """

    def __init__(self, setting: str = "auto", tolerance: float = 2.0, max_age: float = 600.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 kernel: Callable[[], bool] = kernel_clock_synced):
        if setting not in ("auto", "trusted", "untrusted"):
            raise ValueError("clock setting is auto, trusted or untrusted")
        self.setting = setting
        self.tolerance = tolerance
        self.max_age = max_age
        self._mono = monotonic
        self._kernel = kernel
        self._kernel_asked = (-1e9, False)
        self.offset: float | None = None      # hub time minus our time, seconds
        self._heard: float | None = None      # monotonic time of the last beacon

    def note_hub_time(self, hub_time: float, local_time: float) -> None:
        self.offset = hub_time - local_time
        self._heard = self._mono()

    def _hub_recent(self) -> bool:
        return self._heard is not None and self._mono() - self._heard <= self.max_age

    def kernel_synced(self) -> bool:
        """The kernel's answer, asked at most every 5 s (this is called per attempt)."""
        at, value = self._kernel_asked
        if self._mono() - at > 5.0:
            value = self._kernel()
            self._kernel_asked = (self._mono(), value)
        return value

    def trusted(self) -> bool:
        if self.setting != "auto":
            return self.setting == "trusted"
        if self._hub_recent():
            return abs(self.offset) <= self.tolerance
        return self.kernel_synced()

    def state(self) -> dict:
        """For the heartbeat and the screen: trusted or not, and by whose word."""
        source = "hub" if self._hub_recent() else ("kernel" if self.setting == "auto"
                                                   else "setting")
        return {"trusted": self.trusted(), "offset": self.offset, "source": source}
