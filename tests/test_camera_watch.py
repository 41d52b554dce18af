"""The gate's camera outages as events (kiosk/camera_watch.py), from a real camera that
is missing and then appears (a file camera, opened by kiosk/scanner/reconnect.py) into
the gate's real log: lost once however long, back once with how long, and a camera
mended while the kiosk was stopped still closes the office's alert."""
from __future__ import annotations

import threading
from pathlib import Path

from demo.scenes import phone_frame, write_frames
from gatehouse.events import EventKind
from gatehouse.processes import wait_until
from kiosk.attempt_log import AttemptLog
from kiosk.camera_watch import CameraWatch
from kiosk.scanner.reconnect import CameraState, ReconnectingSource

T0 = 1_800_000_000.0


def outbox_camera(log: AttemptLog) -> list[dict]:
    return [{k: e.payload.get(k) for k in ("state", "lost_for_s")} | {"at": e.at}
            for e in log.outbox.pending(0, 100) if e.kind is EventKind.CAMERA]


def missing_camera(tmp_path: Path) -> tuple[ReconnectingSource, Path, threading.Thread]:
    folder = tmp_path / "camera"
    source = ReconnectingSource(f"file:{folder}?fps=10&loop=1", retry_s=0.05)
    reader = threading.Thread(target=source.read, daemon=True)   # returns at its first frame
    reader.start()
    wait_until(lambda: source.state is CameraState.MISSING, 5, message="camera missing")
    return source, folder, reader


def plug_in(tmp_path: Path, folder: Path, reader: threading.Thread) -> None:
    write_frames(tmp_path / "plugging", [phone_frame(None)] * 3).rename(folder)
    reader.join(5)
    assert not reader.is_alive()


def test_an_outage_is_one_lost_and_one_back_with_how_long(tmp_path):
    log = AttemptLog(tmp_path / "kiosk.db")
    watch = CameraWatch(log)
    source, folder, reader = missing_camera(tmp_path)
    for t in range(5):                        # the gate ticks many times while it is out
        watch.tick(source, T0 + t)
    plug_in(tmp_path, folder, reader)
    watch.tick(source, T0 + 42.04)
    watch.tick(source, T0 + 43)
    source.close()
    assert outbox_camera(log) == [{"state": "lost", "lost_for_s": None, "at": T0},
                                  {"state": "back", "lost_for_s": 42.0, "at": T0 + 42.04}]
    (lost,) = [e for e in log.outbox.pending(0, 100) if e.payload.get("state") == "lost"]
    assert "FileNotFoundError" in lost.payload["problem"]    # the driver's words, for the office


def test_a_camera_mended_while_the_kiosk_was_stopped_is_logged_back_at_the_next_start(
        tmp_path):
    log = AttemptLog(tmp_path / "kiosk.db")
    source, folder, reader = missing_camera(tmp_path)
    CameraWatch(log).tick(source, T0)                        # lost; then the kiosk stops
    source.close()
    log.close()
    log = AttemptLog(tmp_path / "kiosk.db")                  # started again, camera mended
    source, folder, reader = missing_camera(tmp_path / "again")
    plug_in(tmp_path / "again", folder, reader)
    watch = CameraWatch(log)
    watch.tick(source, T0 + 600)
    source.close()
    assert [(c["state"], c["lost_for_s"]) for c in outbox_camera(log)] == [
        ("lost", None), ("back", 600.0)]


def test_a_camera_that_never_went_missing_logs_nothing(tmp_path):
    log = AttemptLog(tmp_path / "kiosk.db")
    (tmp_path / "cam").mkdir()
    write_frames(tmp_path / "f", [phone_frame(None)] * 2).rename(tmp_path / "cam" / "f")
    source = ReconnectingSource(f"file:{tmp_path / 'cam' / 'f'}?fps=10&loop=1")
    assert source.read() is not None and source.state is CameraState.OK
    CameraWatch(log).tick(source, T0)
    source.close()
    assert outbox_camera(log) == []
