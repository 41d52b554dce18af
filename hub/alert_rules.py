"""Who hears of which alerts, and when: the office's alert routes and their pure rules.

A route is one place a message goes (a WeCom or DingTalk group robot, a webhook, SMS to
a few phones, a file) with the alert kinds and gates it wants, its quiet hours and its
burst window. They are kept in `<home>/hub/alerts.json`, mode 0600 (a robot's key rides
in its URL), edited on the admin page (/alerts/delivery):

    {"routes": [{"name": "office", "channel": "wecom", "url": "https://…?key=…",
                 "kinds": ["*"], "quiet": "22:00-07:00", "burst_s": 60}]}

Nothing here touches the clock, the database or the network: `due` and `alert_body`
take what they need.
"""
from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from zoneinfo import ZoneInfo

from gatehouse.privacy import mask_household, mask_name
from hub.alert_kinds import AlertKind, label_of

ALL = "*"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
QUIET = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
PHONE = re.compile(r"\+?\d{6,15}")
# A text message costs money and wakes someone: only what needs a person at once.
SMS_KINDS = frozenset({AlertKind.DOOR_FORCED, AlertKind.GATE_OFFLINE,
                       AlertKind.SIGNATURE_BAD, AlertKind.NOT_SAME_PERSON})
# Sent in quiet hours too unless a route says otherwise: a forced door cannot wait.
URGENT = (AlertKind.DOOR_FORCED.value,)


class AlertRulesError(ValueError):
    """A route the office must fix; says which and what."""


class RouteChannel(str, Enum):
    WECOM = "wecom"          # 企业微信群机器人
    DINGTALK = "dingtalk"    # 钉钉群机器人 (signed with its secret)
    WEBHOOK = "webhook"      # the generic webhook, signed X-Gatehouse-Signature
    SMS = "sms"              # the HTTP SMS gateway, to `phones`
    FILE = "file"            # JSON lines to a path (`url`): the demo, a test


@dataclass(frozen=True)
class AlertRoute:
    """One place alerts go, and which of them."""

    name: str
    channel: RouteChannel
    url: str                                  # robot, webhook or gateway URL; file: a path
    secret: str = ""                          # DingTalk's SEC…, the webhook's, SMS API key
    kinds: tuple[str, ...] = (ALL,)           # AlertKind values, or "*"
    gates: tuple[str, ...] = ()               # none: every gate
    quiet: str = ""                           # "22:00-07:00", compound time: held till the end
    urgent: tuple[str, ...] = URGENT          # kinds sent in quiet hours all the same
    burst_s: float = 60.0                     # alerts of one kind in this window: one message
    phones: tuple[str, ...] = ()              # SMS only
    sign: str = ""                            # SMS: the registered signature (签名)
    style: str = "text"                       # robots: text or markdown

    def __post_init__(self) -> None:
        why = self.problem()
        if why:
            raise AlertRulesError(f"route {self.name or '?'}: {why}")

    def problem(self) -> str:
        if not NAME.fullmatch(self.name or ""):
            return "a name of lower-case letters, digits, - and _ (at most 32)"
        if not self.url:
            return "a URL (a path for a file)"
        if self.channel is not RouteChannel.FILE and not self.url.startswith(
                ("https://", "http://")):
            return "the URL must start with https:// (or http:// on the LAN)"
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in self.url):
            return "a URL without spaces or control characters"
        if self.channel is not RouteChannel.FILE:
            try:
                parts = urllib.parse.urlsplit(self.url)
                parts.port   # noqa: B018 (raises on a port that is no number)
            except ValueError:
                return "a URL whose port is a number"
            if not parts.hostname:
                return "a URL with a host name"
        for k in self.kinds + self.urgent:
            if k != ALL and k not in AlertKind._value2member_map_:
                return f"no alert kind {k!r}"
        if not self.kinds:
            return "at least one alert kind"
        if self.quiet and not QUIET.fullmatch(self.quiet):
            return f"quiet hours as HH:MM-HH:MM, not {self.quiet!r}"
        if not 0 <= self.burst_s <= 3600:
            return "a burst window of 0 to 3600 seconds"
        if self.style not in ("text", "markdown"):
            return "style text or markdown"
        if self.channel is RouteChannel.DINGTALK and self.secret and \
                not self.secret.startswith("SEC"):
            return "a DingTalk robot's signing secret starts with SEC"
        if self.channel is RouteChannel.WEBHOOK and not self.secret:
            return "a webhook needs its shared secret"
        if self.channel is RouteChannel.SMS:
            if not self.phones or not all(PHONE.fullmatch(p) for p in self.phones):
                return "SMS needs phone numbers (digits)"
            if not self.secret:
                return "SMS needs the gateway's API key"
            wide = sorted(k for k in self.kinds if k == ALL or AlertKind(k) not in SMS_KINDS)
            if wide:
                return (f"SMS is for {', '.join(sorted(k.value for k in SMS_KINDS))} only, "
                        f"not {', '.join(wide)}")
        return ""

    def wants(self, kind: str, gate: str) -> bool:
        return (ALL in self.kinds or kind in self.kinds) and (not self.gates or gate in self.gates)

    def targets(self) -> list[tuple[str, str]]:
        """(key part, recipient) per message: each phone for SMS, one for the others."""
        if self.channel is RouteChannel.SMS:
            return [(str(i), p) for i, p in enumerate(self.phones)]
        return [("0", "")]

    def due(self, kind: str, now: float, zone: ZoneInfo) -> float:
        """When a burst starting now goes out: after its window, and not before the end
        of quiet hours unless the kind is urgent."""
        at = now + self.burst_s
        if self.quiet and kind not in self.urgent:
            at = max(at, quiet_end(self.quiet, at, zone) or at)
        return at

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["channel"] = self.channel.value
        return {k: list(v) if isinstance(v, tuple) else v for k, v in doc.items()}

    @classmethod
    def from_json(cls, doc: dict) -> AlertRoute:
        known = {f.name for f in fields(cls)}
        doc = {k: tuple(v) if isinstance(v, list) else v for k, v in doc.items() if k in known}
        try:
            return cls(**{**doc, "channel": RouteChannel(doc.get("channel"))})
        except (TypeError, ValueError) as exc:
            if isinstance(exc, AlertRulesError):
                raise
            raise AlertRulesError(f"route {doc.get('name', '?')}: {exc}") from None


@dataclass(frozen=True)
class AlertRules:
    routes: tuple[AlertRoute, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise AlertRulesError("two routes with the same name")

    def to_json(self) -> dict:
        return {"routes": [r.to_json() for r in self.routes]}

    @classmethod
    def from_json(cls, doc: dict) -> AlertRules:
        return cls(tuple(AlertRoute.from_json(r) for r in doc.get("routes", [])))

    def with_route(self, route: AlertRoute) -> AlertRules:
        """These rules with `route` added, or replacing the one of its name."""
        return AlertRules(tuple(r for r in self.routes if r.name != route.name) + (route,))

    def without(self, name: str) -> AlertRules:
        return AlertRules(tuple(r for r in self.routes if r.name != name))


def quiet_end(quiet: str, at: float, zone: ZoneInfo) -> float | None:
    """The end of the quiet hours `at` falls in ("22:00-07:00" spans midnight); None
    when `at` is outside them.

    >>> zone = ZoneInfo("Asia/Shanghai")
    >>> night = datetime(2026, 11, 23, 23, 30, tzinfo=zone).timestamp()
    >>> datetime.fromtimestamp(quiet_end("22:00-07:00", night, zone), zone).isoformat()
    '2026-11-24T07:00:00+08:00'
    >>> quiet_end("22:00-07:00", night - 12 * 3600, zone) is None      # 11:30
    True
    """
    m = QUIET.fullmatch(quiet)
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    local = datetime.fromtimestamp(at, zone)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start <= end else minute >= start or minute < end
    if not inside or start == end:
        return None
    day = local.date() + timedelta(days=1 if start > end and minute >= start else 0)
    return datetime(day.year, day.month, day.day, end // 60, end % 60, tzinfo=zone).timestamp()


def load_rules(path: Path) -> AlertRules:
    """The routes in `path` (none when it does not exist); refuses a file others can read."""
    if not path.exists():
        return AlertRules()
    if path.stat().st_mode & 0o077:
        raise AlertRulesError(f"{path} is readable by others: chmod 600 {path}")
    try:
        return AlertRules.from_json(json.loads(path.read_text()))
    except ValueError as exc:
        raise AlertRulesError(f"{path}: {exc}") from None


def save_rules(path: Path, rules: AlertRules) -> None:
    """Replace `path` atomically, created 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(rules.to_json(), fh, ensure_ascii=False, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def alert_body(kind: str, gates: list[tuple[str, str, int]], first_at: float,
               last_at: float, zone: ZoneInfo, compound: str = "",
               detail: dict | None = None) -> str:
    """The message of a burst: label and count, the gates (id, name, count), the time
    span; the last alert's person and household masked (nothing else of its detail
    leaves the hub).

    >>> at = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    >>> print(alert_body("HEALTH_RED", [("gate-north", "北门", 7), ("gate-south", "南门", 3)],
    ...                  at, at + 50, ZoneInfo("Asia/Shanghai"), "示范小区",
    ...                  {"name": "张三丰", "household": "7-2-302"}))
    【示范小区】红码 Red health code ×10
    门岗 Gates: 北门 (gate-north) ×7，南门 (gate-south) ×3
    时间 Time: 11-23 08:00:00–08:00:50
    最近 Latest: 张*丰 7-2-**2
    """
    count = sum(n for _, _, n in gates)
    head = f"【{compound}】" if compound else ""
    head += label_of(kind) + (f" ×{count}" if count > 1 else "")

    def gate(g: str, name: str, n: int) -> str:
        shown = f"{name} ({g})" if name and name != g else g
        return shown + (f" ×{n}" if len(gates) > 1 and n > 1 else "")
    lines = [head, ("门岗 Gate: " if len(gates) == 1 else "门岗 Gates: ") +
             "，".join(gate(*g) for g in gates)]
    first = datetime.fromtimestamp(first_at, zone)
    last = datetime.fromtimestamp(last_at, zone)
    span = first.strftime("%m-%d %H:%M:%S")
    if count > 1 and last_at - first_at >= 1:
        span += "–" + last.strftime("%H:%M:%S" if first.date() == last.date() else
                                    "%m-%d %H:%M:%S")
    lines.append(f"时间 Time: {span}")
    who = " ".join(x for x in (_plain(mask_name((detail or {}).get("name"))),
                               _plain(mask_household((detail or {}).get("household")))) if x)
    if who:
        lines.append(f"{'最近 Latest' if count > 1 else '人员 Person'}: {who}")
    return "\n".join(lines)


# What a masked name or household may show in the office's group: a gate's login (a
# tampered gate) must not put a link or markdown there under the compound's robot.
_UNSAFE = re.compile(r"[^\w*·\-]")


def _plain(text: str | None) -> str:
    return _UNSAFE.sub("", text or "")[:40]
