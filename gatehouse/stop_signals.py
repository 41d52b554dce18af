"""Stop a long-running process on SIGTERM / SIGINT, with no lock taken in the signal handler.

Python runs a signal handler in the main thread between two bytecodes, wherever that thread
is, including inside `Event.wait()` just after its timeout, while it holds the Event's own
lock. A handler that calls `stop.set()` then waits for that lock for ever: a kiosk waiting for
its first bundle hung on SIGTERM so (CI, 2026-12-04; systemd would SIGKILL it after
TimeoutStopSec). The handler here only writes a byte to a pipe; a thread started beforehand
reads it and stops the process from outside the handler.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Callable


def stop_on_signals(stop: Callable[[], None],
                    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Call `stop` (once, on its own thread) when one of `signals` arrives. Main thread only."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def handler(signum: int, frame: object) -> None:
        try:
            os.write(write_end, b"\0")
        except BlockingIOError:  # the pipe is full of earlier signals: a stop is on its way
            pass

    def watch() -> None:
        os.read(read_end, 1)
        stop()

    threading.Thread(target=watch, name="stop-signal", daemon=True).start()
    for sig in signals:
        signal.signal(sig, handler)
