"""`kiosk run` as a real process: kill -9 in a burst loses no logged attempt, SIGTERM
stops it cleanly, and the relay is locked when it starts again."""
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from demo.scenes import showing, write_frames
from gatehouse.codes import Colour
from tests.conftest import HOUR, resident_ids

KIOSK = Path(sys.executable).parent / "kiosk"
ATTEMPT_LINE = re.compile(r"attempt ([0-9a-f]{32}) (admit|refer|refuse)")


@pytest.fixture
def burst_camera(compound, authority, tmp_path):
    """A looping file camera: residents showing pass and green code, one after another."""
    now = int(time.time())
    texts = []
    for n, pid in enumerate(resident_ids(6)):
        texts.append(compound.issue_pass(pid, f"居民{n}", "7", str(100 + n), now - 86400))
        texts.append(authority.health(pid, Colour.GREEN, now - HOUR, now - 20 * HOUR))
    compound.publish(now)
    return write_frames(tmp_path / "burst", showing(*texts, frames_each=2, gap=1))


def start_kiosk(home, camera: Path) -> subprocess.Popen:
    env = {**os.environ, "GATEHOUSE_KIOSK_COOLDOWN_S": "0.3", "GATEHOUSE_KIOSK_WEB_PORT": "0",
           "GATEHOUSE_KIOSK_ATTEMPT_WINDOW_S": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [KIOSK, "run", "--home", str(home.root), "--camera", f"file:{camera}?fps=30&loop=1",
         "--pin-factory", "mock", "--clock", "trusted"],
        env=env, stderr=subprocess.PIPE, text=True)


def reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    proc.stderr.close()


def read_attempts(proc: subprocess.Popen, count: int, timeout: float = 30) -> list[str]:
    """Attempt ids the kiosk reported as committed, until `count` of them."""
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    while len(ids) < count and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if m := ATTEMPT_LINE.search(line):
            ids.append(m.group(1))
    return ids


def test_kill_9_in_a_burst_loses_no_logged_attempt_and_restarts_locked(home, burst_camera):
    proc = start_kiosk(home, burst_camera)
    try:
        reported = read_attempts(proc, 6)
        assert len(reported) == 6, "the kiosk did not log attempts"
        proc.kill()  # SIGKILL: no handler runs, no clean shutdown
        proc.wait(10)
    finally:
        reap(proc)
    db = sqlite3.connect(home.kiosk_db)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    stored = {r[0] for r in db.execute("select id from attempts")}
    assert set(reported) <= stored
    outbox = {r[0] for r in db.execute("select id from outbox")}
    assert stored <= outbox  # every logged attempt also waits for the hub
    db.close()

    # Restart: the relay is locked from the start, and SIGTERM stops it cleanly.
    proc = start_kiosk(home, burst_camera)
    try:
        assert len(read_attempts(proc, 1)) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        reap(proc)
    db = sqlite3.connect(home.kiosk_db)
    starts = [json.loads(r[0]) for r in db.execute(
        "select detail from events where kind = 'started' order by seq")]
    assert len(starts) == 2 and all(s["relay_unlocked"] is False for s in starts)
    assert "mock" in starts[-1]["pins"]
    kinds = [r[0] for r in db.execute("select kind from events order by seq")]
    db.close()
    assert kinds[-1] == "stopped"


def test_kiosk_run_without_a_compound_fails_clearly(tmp_path):
    result = subprocess.run([KIOSK, "run", "--home", str(tmp_path), "--camera",
                             f"file:{tmp_path}", "--pin-factory", "mock"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "hub init" in result.stderr
