"""Notifications to residents: an outbox in the hub database, delivered by a pluggable sender.

Issue 7: a household is told its pickup codes by SMS or a webhook, one message per
household however many parcels come in together (a waiting row with the same key is
updated, not doubled), one per building for a group purchase. Nothing is lost: a
household with no phone on file gets a `skipped` row the office sees on
/notifications; a failed send is tried again with backoff, then listed as `failed`,
and the office can retry either.

    body = pickup_body([("B-3-1045", "B-3", "顺丰速运", True)], "示范小区")
    queue(db, kind=Kind.PICKUP, key="household:7-2-301", household="7-2-301", body=body,
          at=now)
    deliver_due(db, WebhookSender(url, secret), now + HOLD_S)     # -> (1, 0)

The outbox itself (queue, delivery, retry) is hub/outbox.py, re-exported here; the
office's alerts go through it too (hub/alert_delivery.py), delivered by the same worker.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hub import alert_delivery
from hub.notify_senders import (
    Channel,
    FileSender,
    NotifyConfig,
    NotifyError,
    Sender,
    SendError,
    SmsGatewaySender,
    WebhookSender,
    load_config,
    save_config,
    sender_from_config,
)
from hub.outbox import (
    ALLOWED,
    BACKOFF_CAP_S,
    BACKOFF_S,
    HOLD_S,
    LEASE_S,
    MAX_ATTEMPTS,
    NO_PHONE,
    Kind,
    State,
    after_failure,
    backoff,
    counts,
    deliver_due,
    listing,
    queue,
    recipient_of,
    retry,
)
from hub.periodic import Periodic

__all__ = ["ALLOWED", "BACKOFF_CAP_S", "BACKOFF_S", "Channel", "FileSender", "HOLD_S", "Kind",
           "LEASE_S", "MAX_ATTEMPTS", "NO_PHONE", "NotifyConfig", "NotifyError", "SendError",
           "Sender", "SmsGatewaySender", "State", "WebhookSender", "after_failure", "backoff",
           "batch_body", "counts", "deliver_due", "listing", "load_config", "notify_worker",
           "overdue_body", "pickup_body", "queue", "recipient_of", "retry", "save_config",
           "sender_from_config"]


# Message bodies: Chinese, short (an SMS is 70 characters a part) ----------------------

MAX_LISTED = 6


def _sign(compound_name: str) -> str:
    return f"【{compound_name}】" if compound_name else ""


def short_carrier(name: str) -> str:
    """顺丰速运 -> 顺丰, 京东物流 -> 京东: what residents call them."""
    for suffix in ("速运", "速递", "快递", "物流", "快运"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return name


def pickup_body(codes: list[tuple[str, str, str, bool]], compound_name: str,
                place: str = "快递区") -> str:
    """One message for a household's waiting parcels (code, slot, carrier, fresh); fresh first."""
    if not codes:
        return ""
    parts = []
    for code, slot, carrier, fresh in sorted(codes, key=lambda c: (not c[3], c[0]))[:MAX_LISTED]:
        notes = [f"货架{slot}"] if slot and not code.startswith(slot) else []
        notes += [short_carrier(carrier)] if carrier else []
        notes += ["生鲜请尽快"] if fresh else []
        parts.append(code + (f"（{'，'.join(notes)}）" if notes else ""))
    more = "等" if len(codes) > MAX_LISTED else ""
    return (f"{_sign(compound_name)}您有{len(codes)}件快递待取：{'、'.join(parts)}{more}。"
            f"凭出入证或取件码到{place}取件。")


def batch_body(building: str, title: str, households: list[str], compound_name: str = "",
               place: str = "快递区") -> str:
    """One message per building for a group purchase (团购), for its leader to split."""
    name = f"{building}号楼" if building.isdigit() else building
    listed = "、".join(households[:10]) + ("等" if len(households) > 10 else "")
    return (f"{_sign(compound_name)}{name}团购「{title}」已到，共{len(households)}户"
            f"{'：' + listed if listed else ''}。请团长到{place}领取分发。")


def overdue_body(codes: list[str], days: int, compound_name: str = "",
                 place: str = "快递区") -> str:
    """A reminder for parcels waiting `days` days or more."""
    listed = "、".join(codes[:MAX_LISTED]) + ("等" if len(codes) > MAX_LISTED else "")
    return (f"{_sign(compound_name)}您的快递{listed}已放置{days}天以上，"
            f"请尽快到{place}取件。")


# The worker ---------------------------------------------------------------------------

def outbox_pass(db, sender: Sender | None, alerts: alert_delivery.AlertDelivery,
                now: float) -> None:
    """One pass of the outbox: residents' rows with `sender` (none: they wait), then the
    alerts raised since the last pass queued and each route's due rows sent."""
    if sender is not None:
        deliver_due(db, sender, now)
    alerts.run(db, now)


def notify_worker(db_path: Path, sender: Sender | None, interval: float = 5.0,
                  clock: Callable[[], float] = time.time) -> Periodic:
    """Deliver what is due every `interval` s on its own connection (a daemon thread).

        worker = notify_worker(home.hub_db, sender_from_config(home)).start()   # hub serve

    The office's alert routes are `alerts.json` beside the database, read again when it
    changes (hub/alert_rules.py). A pass stuck on a slow receiver is left behind at stop:
    the rows it had claimed are due again after LEASE_S.
    """
    alerts = alert_delivery.AlertDelivery(Path(db_path).parent / alert_delivery.CONFIG_NAME)
    return Periodic("hub-notify", lambda db, now: outbox_pass(db, sender, alerts, now),
                    interval, clock=clock, db_path=db_path, join_s=10)
