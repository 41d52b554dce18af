"""Times as the commands take them: ISO text in, epoch seconds inside."""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


def parse_at(text: str | None, zone: str = DEFAULT_ZONE) -> int:
    """'2026-11-23T08:00' (compound time unless it has an offset) -> epoch seconds; None -> now."""
    if text is None:
        return int(time.time())
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO time: {text!r} (e.g. 2026-11-23T08:00)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(zone))
    return int(dt.timestamp())


def iso(epoch: float | None, zone: str = DEFAULT_ZONE) -> str | None:
    """Epoch seconds -> ISO text in the compound's zone."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, ZoneInfo(zone)).isoformat(timespec="seconds")
