"""How the hub's notifications leave the building: a webhook, an HTTP SMS gateway or a file.

The one seam to the outside for hub/notify.py: a sender gets a recipient, a body and the
row's meta (id, kind, key, household, building) and either returns or raises
`SendError(message, retry)`. Which sender runs is `<home>/hub/notify.json`
(`hub notify set`); its secrets come from the environment or from 0600 files in the
home, never from the config file.

    sender = WebhookSender("https://ops.example/hooks/gatehouse", secret)
    sender.send("13812341234", "【示范小区】您有1件快递待取：…", {"id": 7, "kind": "pickup"})
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Protocol

from gatehouse.home import Home, write_atomic, write_private

ENV_SECRET = "GATEHOUSE_NOTIFY_SECRET"
ENV_SMS_KEY = "GATEHOUSE_SMS_KEY"
USER_AGENT = "gatehouse-hub/notify"
MAX_REPLY = 64 * 1024
# Worth another try: the receiver timed out or asked us to slow down; every 5xx too.
RETRY_STATUS = {408, 425, 429}


class NotifyError(ValueError):
    """Something the office must fix (configuration, a row that cannot change); says what."""


class SendError(Exception):
    """A send that did not go through; `retry` says whether trying again may help."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


class Sender(Protocol):
    channel: str     # recorded on each row: webhook, sms, file

    def send(self, recipient: str, body: str, meta: dict) -> None:
        """Deliver one message or raise SendError."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A POST answered with a redirect is a misconfigured URL, not something to follow.
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


# A receiver that trickles its answer (a byte every few seconds) never trips a socket's
# timeout; it held the one outbox thread and every resident's notice behind it (found by
# the attacking review). A post now has a whole-answer deadline; one still hanging is
# left to its own daemon thread, and past a few of those the next fails at once.
DEADLINE_FACTOR = 3
MAX_HANGING = 4
_hanging = threading.BoundedSemaphore(MAX_HANGING)


def post(url: str, data: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST and sort the outcome: (status, reply) on 2xx, else SendError, within
    DEADLINE_FACTOR x `timeout` for the whole answer."""
    if not _hanging.acquire(blocking=False):
        raise SendError(f"{shown_url(url)}: {MAX_HANGING} earlier sends still hang",
                        retry=True)
    box: dict = {}

    def run() -> None:
        try:
            box["reply"] = _post(url, data, headers, timeout)
        except BaseException as exc:   # handed to the caller below
            box["error"] = exc
        finally:
            _hanging.release()
    worker = threading.Thread(target=run, name="notify-post", daemon=True)
    worker.start()
    worker.join(timeout * DEADLINE_FACTOR)
    if worker.is_alive():
        raise SendError(f"{shown_url(url)}: no whole answer in "
                        f"{timeout * DEADLINE_FACTOR:g} s", retry=True)
    if "error" in box:
        raise box["error"]
    return box["reply"]


def _post(url: str, data: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST and sort the outcome: (status, reply) on 2xx, else SendError.

    4xx (but 408/425/429) is permanent; 5xx, timeouts and refused connections are not.
    """
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.read(MAX_REPLY).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            reply = exc.read(MAX_REPLY).decode("utf-8", "replace").strip()
        status = exc.code
        # A gateway says why it refused ("bad number"); only admins and the technician
        # choose where messages go (docs/security.md), so its first words are kept.
        raise SendError(f"HTTP {status} {_reason(reply)}".strip(),
                        retry=status in RETRY_STATUS or status >= 500) from None
    except urllib.error.URLError as exc:
        why = exc.reason if isinstance(exc.reason, str) else type(exc.reason).__name__
        raise SendError(f"{shown_url(url)}: {_reason(why)}", retry=True) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError,
            ValueError) as exc:
        # Never the exception's text: http.client's InvalidURL quotes the whole URL, key
        # and all.
        raise SendError(f"{shown_url(url)}: {type(exc).__name__}"
                        + (f" {exc.strerror}" if getattr(exc, "strerror", None) else ""),
                        retry=True) from None


def _reason(text: str) -> str:
    """A refusal's words, printable, without anything that looks like a URL's secret."""
    text = "".join(c for c in text[:200] if c.isprintable())
    return "" if any(k in text for k in ("key=", "access_token", "sign=", "token=")) else text


def signature(secret: str | bytes, raw: bytes) -> str:
    """The X-Gatehouse-Signature of a webhook body: sha256=<hex HMAC-SHA256>."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, raw: bytes, header: str) -> bool:
    """What a receiver checks: the header matches the raw body (constant time)."""
    return hmac.compare_digest(signature(secret, raw), header or "")


class WebhookSender:
    """POST each message as JSON, signed with a shared secret.

    The receiver (an ops bot, a WeChat Work relay, the property company's app) checks
    `X-Gatehouse-Signature` and uses `X-Gatehouse-Id` to drop a repeat: a send that
    timed out after the receiver took it is sent again with the same id.
    """

    channel = "webhook"

    def __init__(self, url: str, secret: str | bytes, timeout: float = 5):
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, recipient: str, body: str, meta: dict) -> None:
        doc = {"recipient": recipient, "body": body, "kind": meta.get("kind"),
               "key": meta.get("key"), "id": meta.get("id"),
               "household": meta.get("household"), "building": meta.get("building")}
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        post(self.url, raw, {"Content-Type": "application/json; charset=utf-8",
                             "X-Gatehouse-Signature": signature(self.secret, raw),
                             "X-Gatehouse-Id": str(meta.get("id", ""))}, self.timeout)


class SmsGatewaySender:
    """A generic HTTP SMS gateway: one POST per message with phone, content, sign and key.

    JSON by default, form-encoded with `form=True`. Vendors differ in field names,
    authentication and how a 200 reply reports a refusal: a subclass maps them by
    overriding `FIELDS`, `payload()` (e.g. Aliyun SendSms: PhoneNumbers, SignName,
    TemplateCode, TemplateParam) and `check()`. The gateway puts the registered
    signature 【sign】 in front itself, so a body's own leading 【…】 is dropped.
    """

    channel = "sms"
    FIELDS = {"phone": "phone", "content": "content", "sign": "sign", "key": "key"}

    def __init__(self, url: str, api_key: str, sign_name: str, template: str = "{body}",
                 form: bool = False, timeout: float = 5):
        self.url, self.api_key, self.sign_name = url, api_key, sign_name
        self.template, self.form, self.timeout = template, form, timeout

    def content(self, body: str) -> str:
        if body.startswith("【") and "】" in body:
            body = body.split("】", 1)[1]
        return self.template.format(body=body, sign=self.sign_name)

    def payload(self, recipient: str, body: str, meta: dict) -> dict:
        values = {"phone": recipient, "content": self.content(body), "sign": self.sign_name,
                  "key": self.api_key}
        return {self.FIELDS[k]: v for k, v in values.items()}

    def check(self, status: int, reply: str) -> None:
        """A 2xx whose JSON says `"ok": false` or `"success": false` is a refusal."""
        try:
            doc = json.loads(reply)
        except ValueError:
            return
        if isinstance(doc, dict) and (doc.get("ok") is False or doc.get("success") is False):
            raise SendError(f"gateway refused: {str(doc.get('message') or doc.get('msg'))[:200]}",
                            retry=False)

    def send(self, recipient: str, body: str, meta: dict) -> None:
        if not recipient:
            raise SendError("SMS needs a phone number (a building message needs a webhook)",
                            retry=False)
        doc = self.payload(recipient, body, meta)
        if self.form:
            data = urllib.parse.urlencode(doc).encode()
            ctype = "application/x-www-form-urlencoded; charset=utf-8"
        else:
            data = json.dumps(doc, ensure_ascii=False).encode()
            ctype = "application/json; charset=utf-8"
        self.check(*post(self.url, data, {"Content-Type": ctype}, self.timeout))


class FileSender:
    """Append each message as one JSON line to a file: the demo, a compound with no gateway."""

    channel = "file"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, recipient: str, body: str, meta: dict) -> None:
        line = json.dumps({**meta, "recipient": recipient, "body": body}, ensure_ascii=False)
        try:
            with self._lock, open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise SendError(f"{self.path}: {exc}", retry=True) from None


# Configuration ------------------------------------------------------------------------

class Channel(str, Enum):
    OFF = "off"
    WEBHOOK = "webhook"
    SMS = "sms"
    FILE = "file"


@dataclass(frozen=True)
class NotifyConfig:
    """Which sender the hub uses, every default here; `<home>/hub/notify.json`, no secrets."""

    channel: Channel = Channel.OFF
    url: str = ""               # webhook or SMS gateway
    sign: str = ""              # SMS: the signature (签名) registered with the gateway
    path: str = ""              # file: where the JSON lines go
    form: bool = False          # SMS: form-encoded instead of JSON
    template: str = "{body}"    # SMS: the content, from {body} and {sign}
    timeout: float = 5.0

    def to_json(self) -> dict:
        return {**asdict(self), "channel": self.channel.value}

    @classmethod
    def from_json(cls, doc: dict) -> NotifyConfig:
        known = {f.name for f in fields(cls)}
        doc = {k: v for k, v in doc.items() if k in known}
        try:
            return cls(**{**doc, "channel": Channel(doc.get("channel", "off"))})
        except (TypeError, ValueError) as exc:
            raise NotifyError(f"notify.json: {exc}") from None


def config_path(home: Home) -> Path:
    return home.hub / "notify.json"


def secret_path(home: Home) -> Path:
    """The webhook's shared secret when $GATEHOUSE_NOTIFY_SECRET is not set (0600)."""
    return home.hub / "notify.secret"


def sms_key_path(home: Home) -> Path:
    """The SMS gateway's API key when $GATEHOUSE_SMS_KEY is not set (0600)."""
    return home.hub / "notify-sms.key"


def load_config(home: Home) -> NotifyConfig:
    path = config_path(home)
    if not path.exists():
        return NotifyConfig()
    try:
        return NotifyConfig.from_json(json.loads(path.read_text()))
    except ValueError as exc:
        raise NotifyError(f"{path}: {exc}") from None


def save_config(home: Home, config: NotifyConfig) -> None:
    write_atomic(config_path(home), json.dumps(config.to_json(), ensure_ascii=False,
                                               indent=2).encode())


def read_secret(env: str, path: Path) -> str:
    """The environment variable, else the 0600 file; "" when neither is there."""
    if os.environ.get(env):
        return os.environ[env]
    if not path.exists():
        return ""
    if path.stat().st_mode & 0o077:
        raise NotifyError(f"{path} is readable by others: chmod 600 {path}")
    return path.read_text().strip()


def store_secret(path: Path, value: str | None = None) -> str:
    """Write a secret (a new random one when not given) to a 0600 file, replacing any."""
    value = value or secrets.token_hex(32)
    path.unlink(missing_ok=True)
    write_private(path, value.encode())
    return value


def sender_from_config(home: Home) -> Sender | None:
    """The sender notify.json asks for, with its secret; None when notifications are off."""
    c = load_config(home)
    if c.channel is Channel.WEBHOOK:
        secret = read_secret(ENV_SECRET, secret_path(home))
        if not secret:
            raise NotifyError(f"no webhook secret: set ${ENV_SECRET} or run "
                              "`hub notify set --webhook URL` again")
        return WebhookSender(c.url, secret, c.timeout)
    if c.channel is Channel.SMS:
        key = read_secret(ENV_SMS_KEY, sms_key_path(home))
        if not key:
            raise NotifyError(f"no SMS API key: set ${ENV_SMS_KEY} or run "
                              "`hub notify set --sms-url URL --sms-sign NAME` again")
        return SmsGatewaySender(c.url, key, c.sign, c.template, c.form, c.timeout)
    if c.channel is Channel.FILE:
        return FileSender(c.path)
    return None


def shown_url(url: str) -> str:
    """A URL fit for a page or a log: scheme, host, port and the first part of the path
    only (robots carry their key in the query, some webhooks in the path), never a
    user:password. Never raises, whatever was saved."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
    except ValueError:
        return "(not a valid URL)"
    first = "/".join(parts.path.split("/")[:2])
    rest = "/…" if parts.path.rstrip("/") != first.rstrip("/") else ""
    return urllib.parse.urlunsplit((parts.scheme, host, first + rest, "", ""))


def describe(config: NotifyConfig) -> str:
    """One line for the page and `hub notify show`: the channel and where, no secrets."""
    if config.channel is Channel.OFF:
        return "off"
    where = config.path if config.channel is Channel.FILE else shown_url(config.url or "")
    if config.channel is Channel.SMS:
        where += f" (sign {config.sign})"
    return f"{config.channel.value} → {where}"
