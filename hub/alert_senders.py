"""Group robots the office already reads: WeCom (企业微信) and DingTalk (钉钉) webhooks.

Each is a Sender of the outbox (hub/notify_senders.py): `send(recipient, body, meta)`
returns or raises `SendError(message, retry)`. Their native payloads:

    WeComRobotSender(url).send("", "【示范小区】红码 ×3 …", {})
        POST url  {"msgtype": "text", "text": {"content": "…"}}
    DingTalkRobotSender(url, "SEC…").send("", "…", {})
        POST url&timestamp=<ms>&sign=<base64 HMAC-SHA256 of "<ms>\\n<secret>", URL-quoted>
             {"msgtype": "text", "text": {"content": "…"}}

Both answer HTTP 200 with `{"errcode": 0, "errmsg": "ok"}`; any other errcode is a
refusal (a wrong key, a failed signature, a keyword the robot requires), except their
rate limits (WeCom 45009, DingTalk 130101: 20 messages a minute), which are tried again.
The robot's key rides in the URL's query, so pages and logs show `shown_url(url)` only.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable

from hub.notify_senders import SendError, post

JSON = {"Content-Type": "application/json; charset=utf-8"}
RATE_LIMITED = {45009, 130101}   # WeCom, DingTalk: too many messages this minute
MAX_BYTES = 2000                 # WeCom text is at most 2,048 bytes; DingTalk allows more


def clip(text: str, limit: int = MAX_BYTES) -> str:
    """At most `limit` UTF-8 bytes, cut at a character and marked with …."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[:limit - 3].decode("utf-8", "ignore") + "…"


def check_errcode(reply: str) -> None:
    """A robot's 200 reply: errcode 0 is delivered; a rate limit is retried; else refused."""
    try:
        doc = json.loads(reply)
    except ValueError:
        raise SendError("robot replied with no JSON", retry=True) from None
    code = doc.get("errcode", 0) if isinstance(doc, dict) else 0
    if code:
        raise SendError(f"robot refused: errcode {code} {str(doc.get('errmsg'))[:200]}",
                        retry=code in RATE_LIMITED)


def _markdown(body: str) -> str:
    first, _, rest = body.partition("\n")
    return f"**{first}**\n" + "\n".join(f"> {line}" for line in rest.splitlines())


class WeComRobotSender:
    """A WeCom group robot (`https://…/cgi-bin/webhook/send?key=…`): text or markdown."""

    channel = "wecom"

    def __init__(self, url: str, style: str = "text", timeout: float = 5):
        self.url, self.style, self.timeout = url, style, timeout

    def payload(self, body: str) -> dict:
        if self.style == "markdown":
            return {"msgtype": "markdown", "markdown": {"content": clip(_markdown(body))}}
        return {"msgtype": "text", "text": {"content": clip(body)}}

    def send(self, recipient: str, body: str, meta: dict) -> None:
        raw = json.dumps(self.payload(body), ensure_ascii=False).encode()
        check_errcode(post(self.url, raw, JSON, self.timeout)[1])


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature of a request: base64 HMAC-SHA256, keyed by the robot's
    secret, of "<timestamp>\\n<secret>" (not yet URL-quoted).

    >>> signed_url("https://oapi.example/robot/send?access_token=t", "SECxyz", 1700000000000)
    'https://oapi.example/robot/send?access_token=t&timestamp=1700000000000&sign=...'
    >>> len(dingtalk_sign("SECxyz", 1700000000000))        # 32 bytes, base64
    44
    """
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot's URL with `timestamp` and `sign` added (DingTalk refuses a timestamp
    more than an hour from its own clock)."""
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    sign = urllib.parse.quote_plus(dingtalk_sign(secret, timestamp_ms))
    return f"{url}{sep}timestamp={timestamp_ms}&sign={sign}"


class DingTalkRobotSender:
    """A DingTalk group robot (`https://…/robot/send?access_token=…`) with 加签 signing."""

    channel = "dingtalk"

    def __init__(self, url: str, secret: str, style: str = "text", timeout: float = 5,
                 clock: Callable[[], float] = time.time):
        self.url, self.secret, self.style = url, secret, style
        self.timeout, self.clock = timeout, clock

    def payload(self, body: str) -> dict:
        if self.style == "markdown":
            return {"msgtype": "markdown", "markdown": {
                "title": body.partition("\n")[0][:64], "text": clip(_markdown(body), 4000)}}
        return {"msgtype": "text", "text": {"content": clip(body, 4000)}}

    def send(self, recipient: str, body: str, meta: dict) -> None:
        # Signed at each try: a retry an hour later needs a fresh timestamp.
        url = signed_url(self.url, self.secret, int(self.clock() * 1000)) \
            if self.secret else self.url
        raw = json.dumps(self.payload(body), ensure_ascii=False).encode()
        check_errcode(post(url, raw, JSON, self.timeout)[1])
