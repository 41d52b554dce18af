"""SIGTERM stops a process whatever its main thread is doing, even holding the stop Event's
own lock (where `Event.wait()` is just after its timeout): a handler calling `stop.set()`
there waits for that lock for ever. A kiosk waiting for its first bundle hung so on CI."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import os, signal, sys, threading
    from gatehouse.stop_signals import stop_on_signals
    stop = threading.Event()
    if sys.argv[1] == "old":
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    else:
        stop_on_signals(stop.set)
    with stop._cond:  # the main thread holds the Event's lock when the signal comes
        os.kill(os.getpid(), signal.SIGTERM)
        pass  # the handler runs at a bytecode boundary in here
    print("stopped" if stop.wait(5) else "not stopped", flush=True)
""")


def run(how: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, how], capture_output=True, text=True,
                          timeout=timeout)


def test_the_old_handler_hangs_on_the_events_own_lock():
    # What the kiosk, `hub serve` and `district run` did: the process never ends.
    with pytest.raises(subprocess.TimeoutExpired):
        run("old", 3)


def test_stop_on_signals_stops_even_then():
    done = run("new", 10)
    assert done.returncode == 0 and done.stdout.strip() == "stopped", done.stderr
