"""Old name of the gate's log, kept only for importers outside the kiosk's gate code.

The log is kiosk/attempt_log.py (AttemptLog) and its outbox kiosk/outbox.py (Outbox).
Still importing `kiosk.store.Store`: kiosk/link.py, bench/gate_loop.py,
bench/sync/common.py, tests/test_sync.py, tests/test_sync_failures.py,
tests/test_deploy_broker.py, tests/test_tls_gates.py, tests/event_recorder.py. Once they
import AttemptLog (and read the outbox as `log.outbox`), delete this file.
"""
from __future__ import annotations

from gatehouse.events import Event
from kiosk.attempt_log import AttemptLog, LoggedAttempt, migrations

__all__ = ["LoggedAttempt", "Store", "migrations"]


class Store(AttemptLog):
    """The log with the outbox's reads on it, as the hub link used them."""

    def pending(self, after_seq: int, limit: int) -> list[Event]:
        return self.outbox.pending(after_seq, limit)

    def mark_acked(self, ranges: list[tuple[int, int]], at: float) -> int:
        return self.outbox.mark_acked(ranges, at)

    def backlog(self) -> int:
        return self.outbox.backlog()

    def last_seq(self) -> int:
        return self.outbox.last_seq()
