"""H7-4: the kiosk's retention purge deletes the `lost` of an outage still going on; a
kiosk restarted with its camera mended then never logs `back`, and the office's
camera_lost alert stays open for ever.

25c1833 made an outage survive a restart by reading the log's last camera event
(AttemptLog.last_event). The purge (kiosk/gate.py tick, hourly: AttemptLog.purge,
`retention_days`, default 28, allowed from 1) deletes every acknowledged event older
than the retention, the `lost` of an outage that is still on included. A gate whose
camera broke runs on its scanner gun; after the retention (28 days, or one night with
`retention_days = 1`) the technician replaces the camera with the kiosk stopped.

Failed at 25c1833, before the fix.
"""
from __future__ import annotations

import threading
from pathlib import Path

from demo.scenes import phone_frame, write_frames
from gatehouse.event_payloads import CameraPayload
from gatehouse.events import EventKind
from kiosk.attempt_log import AttemptLog
from kiosk.camera_watch import CameraWatch
from kiosk.config import KioskConfig
from kiosk.scanner.reconnect import CameraState, ReconnectingSource

T0 = 1_800_000_000.0
DAY = 86400


def test_a_purged_lost_is_never_followed_by_back(tmp_path: Path):
    retention = KioskConfig.model_fields["retention_days"].default        # 28
    log = AttemptLog(tmp_path / "kiosk.db")
    log.log_event(EventKind.CAMERA, T0, CameraPayload(state="lost", problem="no /dev/video0"))
    log.outbox.mark_acked([(1, log.outbox.last_seq())], T0 + 1)          # the hub has it
    # Four weeks on the scanner gun; the gate's hourly purge at day 29.
    now = T0 + (retention + 1) * DAY
    log.log_event(EventKind.EXIT_REQUEST, now - 3600)
    log.purge(now - retention * DAY)
    log.close()
    # The kiosk stopped, the camera replaced, the kiosk started: its first frame.
    log = AttemptLog(tmp_path / "kiosk.db")
    (tmp_path / "cam").mkdir()
    write_frames(tmp_path / "f", [phone_frame(None)] * 2).rename(tmp_path / "cam" / "f")
    source = ReconnectingSource(f"file:{tmp_path / 'cam' / 'f'}?fps=10&loop=1")
    reader = threading.Thread(target=source.read, daemon=True)
    reader.start()
    reader.join(5)
    assert source.state is CameraState.OK
    CameraWatch(log).tick(source, now + 600)
    source.close()
    sent = [e.payload.get("state") for e in log.outbox.pending(0, 100)
            if e.kind is EventKind.CAMERA]
    assert sent == ["back"]


def test_side_note_an_emptied_outbox_counts_its_seq_again_from_1(tmp_path: Path):
    """Pre-existing (not this change's), found on the way: Outbox.next_seq is max(seq)
    of the outbox + 1, and the purge can empty the outbox (every row acknowledged and
    past retention: a gate with no event for `retention_days`, one quiet day at
    retention_days = 1). The next event is seq 1 again: the hub stores it as a reused
    seq and raises `seq_reused` ("old SD image?"), and AttemptLog.last_event's
    `order by seq desc` no longer finds the newest event."""
    log = AttemptLog(tmp_path / "kiosk.db")
    for i in range(3):
        log.log_event(EventKind.EXIT_REQUEST, T0 + i)
    log.outbox.mark_acked([(1, 3)], T0 + 10)
    log.purge(T0 + 2 * DAY - 1 * DAY)           # retention_days = 1, a day later
    log.log_event(EventKind.EXIT_REQUEST, T0 + 2 * DAY)
    (e,) = log.outbox.pending(0, 10)
    assert e.seq == 4
