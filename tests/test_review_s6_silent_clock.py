"""R6 (H-REVIEW s6), its second part: a silence declared while the hub's clock was
unset (a Pi hub before NTP: 1970) was sent up as CompoundStatus.no_ack_since, outside
the wire's bounds: every status failed to build until the next FeedAck, and the
district saw the compound offline. Now it goes up as unknown."""
from __future__ import annotations

from hub import district_silence
from hub.district_status import compound_status


def test_a_silence_declared_before_the_clock_was_set_does_not_stop_the_status(compound):
    db = compound.db
    district_silence.declare(db, waiting_since=5.0, now=605.0)   # booted at 1970
    status = compound_status(db, "c1", 1.8e9)                    # NTP has set the clock
    assert status.no_ack_since is None or status.no_ack_since >= 1e9
