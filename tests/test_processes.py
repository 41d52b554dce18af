"""gatehouse/processes.py: the one process harness (tests, benches, the demo, the VM
test), with real child processes."""
from __future__ import annotations

import itertools
import os
import signal
import sys

import pytest

from gatehouse.processes import Process, wait_until

# A child that starts a grandchild in its group, says both pids, then waits.
PARENT_OF_ONE = ("import subprocess, sys, time\n"
                 "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
                 "print(child.pid, flush=True)\n"
                 "time.sleep(600)\n")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:   # a zombie is dead too
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_wait_until_returns_the_first_value_that_holds():
    counter = itertools.count()
    assert wait_until(lambda: next(counter), 5, every=0) == 1
    assert wait_until(lambda: next(counter), 5, every=0, until=lambda n: n >= 5) == 5


def test_a_timeout_names_what_was_awaited_and_what_was_last_seen():
    with pytest.raises(TimeoutError, match=r"waiting for the door to open$"):
        wait_until(lambda: None, 0.05, message="the door to open")
    with pytest.raises(TimeoutError, match=r"waiting for three opens; last seen: \[1, 2\]$"):
        wait_until(lambda: [1, 2], 0.05, message="three opens", until=lambda v: len(v) >= 3)
    with pytest.raises(TimeoutError, match=r"waiting for the kiosk; last seen: pid 7 failed"):
        wait_until(lambda: (7, "failed"), 0.05, message="the kiosk",
                   until=lambda s: s[1] == "active", seen=lambda s: f"pid {s[0]} {s[1]}")


def test_an_exception_in_the_condition_ends_the_wait():
    def gone():
        raise RuntimeError("the child exited")
    with pytest.raises(RuntimeError, match="the child exited"):
        wait_until(gone, 5)


def test_the_exit_code_is_kept_after_stop(tmp_path):
    p = Process([sys.executable, "-c", "import sys; print('bye'); sys.exit(3)"], tmp_path / "log")
    assert p.returncode is None
    p.start()
    assert wait_until(lambda: p.returncode is not None, 10, message="the child to end")
    assert p.returncode == 3
    assert p.stop() == 3
    assert p.returncode == 3 and not p.running()
    assert "bye" in p.output()


def test_the_child_reads_nothing_from_the_parents_stdin(tmp_path):
    p = Process([sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"],
                tmp_path / "log").start()
    wait_until(lambda: not p.running(), 10, message="the child to end")
    p.stop()
    assert p.output().strip() == "''"


def test_a_group_kill_reaches_the_childs_own_children(tmp_path):
    p = Process([sys.executable, "-c", PARENT_OF_ONE], tmp_path / "log", own_session=True).start()
    grandchild = int(wait_until(lambda: p.output().strip(), 20, message="the grandchild's pid"))
    try:
        p.kill(group=True)
        assert p.returncode == -signal.SIGKILL
        wait_until(lambda: not alive(grandchild), 10, message="the grandchild to die")
    finally:
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_a_plain_kill_leaves_the_childs_children(tmp_path):
    p = Process([sys.executable, "-c", PARENT_OF_ONE], tmp_path / "log", own_session=True).start()
    grandchild = int(wait_until(lambda: p.output().strip(), 20, message="the grandchild's pid"))
    try:
        p.kill()
        assert alive(grandchild)
    finally:
        os.kill(grandchild, signal.SIGKILL)


def test_a_group_signal_needs_a_group_of_its_own(tmp_path):
    p = Process([sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / "log").start()
    try:
        with pytest.raises(ValueError, match="own_session"):
            p.stop(group=True)
    finally:
        p.kill()
