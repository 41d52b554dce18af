"""Standing notices of a running kiosk: what the volunteer must know about the gate itself.

Mock pins (the door is not connected), a missing camera or scanner gun, no bundle yet.
They exist before the gate does (a new gate waits for its first bundle with its screen
up), so they live here rather than on the Gate; the screen reads them at /api/notices
(kiosk/web/front.py) and systemd's status line is built from them too.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from enum import Enum


class Level(str, Enum):
    ALARM = "alarm"      # red, permanent: the gate is not what it looks like
    WARNING = "warning"  # amber: a part is missing; the gate runs without it


@dataclass(frozen=True)
class Notice:
    key: str            # one notice per key: a newer one replaces it
    level: Level
    zh: str
    en: str
    detail: str | None = None  # the technical reason, for the technician

    def to_json(self) -> dict:
        return {"key": self.key, "level": self.level.value, "zh": self.zh, "en": self.en,
                "detail": self.detail}


MOCK_PINS = Notice("pins", Level.ALARM, "模拟引脚：门不会打开",
                   "SIMULATED PINS: the door is not connected")
WAITING_FOR_BUNDLE = Notice("bundle", Level.WARNING, "正在等待管理端的首个数据包，门保持锁闭",
                            "Waiting for the hub's first bundle; the door stays locked")


def camera_missing(detail: str | None) -> Notice:
    return Notice("camera", Level.WARNING, "摄像头未连接，正在重试；请用扫码枪或人工核验",
                  "Camera missing, retrying; use the scanner gun or check by hand", detail)


def scanner_missing(detail: str | None) -> Notice:
    return Notice("scanner", Level.WARNING, "扫码枪未连接，正在重试",
                  "Scanner gun not connected, retrying", detail)


class Notices:
    """The current notices, shared between the kiosk's threads.

    `boot` changes with every start of the process, so a screen page left open across a
    restart knows to load itself again (its CSRF token is the old process's)."""

    def __init__(self) -> None:
        self.boot = secrets.token_hex(8)
        self.phase = "starting"  # "waiting" (no gate yet) / "running"
        self._lock = threading.Lock()
        self._by_key: dict[str, Notice] = {}

    def set(self, notice: Notice) -> None:
        with self._lock:
            self._by_key[notice.key] = notice

    def clear(self, key: str) -> None:
        with self._lock:
            self._by_key.pop(key, None)

    def current(self) -> list[Notice]:
        """Alarms first, then warnings, each in the order they were raised."""
        with self._lock:
            notices = list(self._by_key.values())
        return sorted(notices, key=lambda n: n.level is not Level.ALARM)

    def to_json(self) -> dict:
        return {"boot": self.boot, "phase": self.phase,
                "notices": [n.to_json() for n in self.current()]}

    def summary(self) -> str:
        """One line for `systemctl status`."""
        return "; ".join(n.en for n in self.current())
