"""`kiosk run` as a real process: kill -9 in a burst loses no logged attempt, SIGTERM
stops it cleanly, and the relay is locked when it starts again; systemd hears READY=1 as
soon as the screen listens (no bundle, no camera) and WATCHDOG=1 only while the gate loop
runs; a machine without GPIO refuses mock pins unless they are asked for."""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demo.scenes import phone_frame, showing, write_frames
from gatehouse.codes import Colour
from gatehouse.endpoint import Endpoint
from gatehouse.home import Home
from tests.conftest import HOUR, resident_ids
from tests.processes import free_port, wait_until

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


# systemd: READY, WATCHDOG and STATUS through $NOTIFY_SOCKET ---------------------------

class NotifySocket:
    """What systemd's end of $NOTIFY_SOCKET receives, message by message, with arrival times."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.got: list[tuple[float, str]] = []

    def wait_for(self, text: str, timeout: float) -> bool:
        """Collect messages until one contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for _, m in self.got):
                return True
            self.collect(min(0.5, deadline - time.monotonic()))
        return any(text in m for _, m in self.got)

    def collect(self, seconds: float) -> list[str]:
        """Messages arriving within the next `seconds`."""
        new: list[str] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.got.append((time.monotonic(), data))
            new.append(data)
        return new

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path):
    s = NotifySocket(tmp_path / "notify")
    yield s
    s.close()


def run_kiosk(home, camera: str, notify: NotifySocket, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "NOTIFY_SOCKET": notify.path, "GATEHOUSE_KIOSK_WEB_PORT": "0",
           "PYTHONUNBUFFERED": "1"}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    return subprocess.Popen([KIOSK, "run", "--home", str(home.root), "--camera", camera,
                             "--clock", "trusted", *extra],
                            env=env, stderr=subprocess.PIPE, text=True)


def screen_url(proc: subprocess.Popen, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if m := re.search(r"screen listening at (http://\S+)", line):
            return m.group(1)
    raise AssertionError("the kiosk did not say where its screen is")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def drain(proc: subprocess.Popen) -> list[str]:
    """Keep reading the kiosk's log so it never blocks on a full pipe; the lines read."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    return lines


def stops_cleanly(proc: subprocess.Popen, log: list[str], within: float = 15) -> None:
    """SIGTERM, then exit 0 within the unit's TimeoutStopSec (15 s); else say what the kiosk
    was doing (its "stopped:" line times each part)."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(within)
    except subprocess.TimeoutExpired:
        raise AssertionError("the kiosk did not stop within %g s; its last lines:\n%s"
                             % (within, "".join(log[-30:]))) from None
    assert code == 0, "".join(log[-30:])


def test_a_new_gate_without_bundle_or_camera_is_ready_with_its_screen_saying_why(
        compound, tmp_path, notify_socket):
    # An enrolled gate: the hub's key and broker credentials, no bundle yet, no hub up.
    gate = Home.at(tmp_path / "gate")
    gate.kiosk.mkdir(parents=True)
    gate.kiosk_hub_public.write_bytes(compound.home.hub_public.read_bytes())
    gate.kiosk_mqtt.write_text(json.dumps(Endpoint("127.0.0.1", free_port(), "gate-1", "pw")
                                          .to_json()))
    proc = run_kiosk(gate, "v4l2:/dev/no-such-camera", notify_socket, "--pin-factory", "mock")
    log: list[str] = []
    try:
        url = screen_url(proc)
        log = drain(proc)
        assert notify_socket.wait_for("READY=1", 20)
        assert notify_socket.wait_for("first bundle", 10)  # STATUS=
        notices = get_json(url + "api/notices")
        keys = [n["key"] for n in notices["notices"]]
        assert notices["phase"] == "waiting" and keys[0] == "pins"  # the red alarm first
        assert {"pins", "bundle"} <= set(keys)
        wait_until(lambda: "camera" in [n["key"] for n in get_json(
            url + "api/notices")["notices"]], 10, message="camera notice")
        pins = next(n for n in notices["notices"] if n["key"] == "pins")
        assert pins["zh"] == "模拟引脚：门不会打开" and pins["level"] == "alarm"
        with pytest.raises(urllib.error.HTTPError) as waiting:  # 503: the gate is starting
            urllib.request.urlopen(url, timeout=5)
        assert waiting.value.code == 503 and "notices.js" in waiting.value.read().decode()
        # The loop waiting for the bundle feeds the watchdog, about once a second.
        pings = [m for m in notify_socket.collect(3.5) if m == "WATCHDOG=1"]
        assert 2 <= len(pings) <= 5
        assert proc.poll() is None  # no exit, no restart loop
    finally:
        try:
            stops_cleanly(proc, log)
        finally:
            reap(proc)
    assert any("stopped: " in line for line in log)  # each part's stop timed in the log


def test_the_watchdog_is_fed_by_the_gate_loop_and_stops_when_it_is_frozen(
        home, compound, notify_socket, tmp_path):
    """Also: the camera missing at start is picked up when it appears, without a restart."""
    compound.publish(int(time.time()))
    camera = tmp_path / "camera"  # not there yet
    proc = run_kiosk(home, f"file:{camera}?fps=10&loop=1", notify_socket,
                     "--pin-factory", "mock")
    log: list[str] = []
    try:
        url = screen_url(proc)
        log = drain(proc)
        assert notify_socket.wait_for("READY=1", 20)
        assert notify_socket.wait_for("Camera missing", 15)  # STATUS= says why
        wait_until(lambda: get_json(url + "api/notices")["phase"] == "running", 10,
                   message="gate running")
        state = get_json(url + "api/state")
        assert state["status"]["camera_ok"] is False
        pings = [m for m in notify_socket.collect(3.5) if m == "WATCHDOG=1"]
        assert 2 <= len(pings) <= 5  # at most once a second, and steadily
        proc.send_signal(signal.SIGSTOP)
        try:
            notify_socket.collect(0.3)  # what was sent before the stop
            assert "WATCHDOG=1" not in notify_socket.collect(3.0)
        finally:
            proc.send_signal(signal.SIGCONT)
        assert notify_socket.wait_for("WATCHDOG=1", 5) and proc.poll() is None
        # The camera is plugged in: frames within the retry interval, the notice gone.
        write_frames(tmp_path / "plugging", [phone_frame(None)] * 5).rename(camera)
        wait_until(lambda: get_json(url + "api/state")["status"]["camera_ok"], 10,
                   message="camera picked up")
        assert "camera" not in [n["key"] for n in get_json(url + "api/notices")["notices"]]
        assert proc.poll() is None
    finally:
        try:
            stops_cleanly(proc, log)
        finally:
            reap(proc)
    db = sqlite3.connect(home.kiosk_db)
    start = json.loads(db.execute("select detail from events where kind = 'started'")
                       .fetchone()[0])
    # The office hears of it too: the camera lost while the gate ran, and back (issue 13's
    # new event kind, docs/architecture.md), in the outbox for the hub.
    camera = [json.loads(d) for (d,) in db.execute(
        "select payload from outbox where kind = 'camera' order by seq")]
    db.close()
    assert start["pins"] == "mock" and start["relay_unlocked"] is False
    assert [c["state"] for c in camera] == ["lost", "back"]
    assert "camera" in camera[0]["problem"] and camera[1]["lost_for_s"] > 3


def test_without_gpio_the_kiosk_refuses_mock_pins_unless_asked(home, compound, tmp_path,
                                                               notify_socket):
    proc = run_kiosk(home, f"file:{tmp_path}", notify_socket)
    try:
        assert proc.wait(30) == 1
        err = proc.stderr.read()
    finally:
        reap(proc)
    assert "no GPIO on this machine" in err and "--pin-factory mock" in err
    assert not any("READY=1" in m for m in notify_socket.collect(0.2))


def test_the_heartbeat_says_mock_pins_and_a_stalled_camera_reads_0_fps():
    from kiosk.config import KioskConfig
    from kiosk.runner import _Status
    from kiosk.scanner import LatestFrame

    class Stalled:
        def read(self):
            time.sleep(0.05)
            return None

        def close(self):
            pass

    status = _Status(KioskConfig(), "mock")
    assert status()["pins"] == "mock" and status()["camera_ok"] is False  # no gate yet
    status.frames = LatestFrame(Stalled())
    try:
        assert status()["fps"] == 0.0
    finally:
        status.frames.close()


def test_a_hung_gate_loop_stops_feeding_the_watchdog(home, compound, kiosk_screen,
                                                     notify_socket, monkeypatch):
    """In process (kiosk_screen runs `kiosk run`'s own code): the loop hangs for 3 s."""
    compound.publish(int(time.time()))
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.path)
    k = kiosk_screen(home, [phone_frame(None)] * 15)
    assert notify_socket.wait_for("WATCHDOG=1", 5)
    hang = threading.Thread(target=lambda: k.gate.call(lambda: time.sleep(3), timeout=10))
    hang.start()
    notify_socket.collect(0.5)  # a ping sent just before the hang
    assert "WATCHDOG=1" not in notify_socket.collect(2.0)
    hang.join()
    assert "WATCHDOG=1" in notify_socket.collect(2.0)  # the loop is back, and so is the feed
