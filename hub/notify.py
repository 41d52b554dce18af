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

No write transaction is held during network I/O: a row is claimed (attempts + 1 and a
lease on next_try) in one short transaction, sent, and its outcome written in another.
Every state change goes through `_change` (table ALLOWED) with an event in
`notification_events`.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path

import sqlite_utils

from gatehouse.db import write_transaction
from hub.periodic import Periodic
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

__all__ = ["Channel", "FileSender", "Kind", "NotifyConfig", "NotifyError", "notify_worker",
           "SendError", "Sender", "SmsGatewaySender", "State", "WebhookSender", "batch_body",
           "counts", "deliver_due", "listing", "load_config", "overdue_body", "pickup_body",
           "queue", "retry", "save_config", "sender_from_config"]

log = logging.getLogger(__name__)

HOLD_S = 60.0          # a new message waits this long, so parcels arriving together make one
BACKOFF_S = 30.0       # after a failed try: 30 s, 1 min, 2 min, … (doubling)
BACKOFF_CAP_S = 1800.0
MAX_ATTEMPTS = 8
LEASE_S = 120.0        # a claimed row is due again after this if its sender never came back
NO_PHONE = "no phone on file"


class Kind(str, Enum):
    PICKUP = "pickup"      # a household's parcels are ready, with their codes
    BATCH = "batch"        # a group purchase (团购) for a building
    OVERDUE = "overdue"    # parcels waiting too long


class State(str, Enum):
    PENDING = "pending"    # waiting for next_try (coalescing, or a retry's backoff)
    SENT = "sent"
    FAILED = "failed"      # a permanent error, or MAX_ATTEMPTS tries
    SKIPPED = "skipped"    # no phone on file: listed until the office fixes it


S = State
ALLOWED: dict[State, set[State]] = {
    S.PENDING: {S.PENDING, S.SENT, S.FAILED, S.SKIPPED},
    S.SKIPPED: {S.SKIPPED, S.PENDING},
    S.FAILED: {S.PENDING, S.SKIPPED},
    S.SENT: set(),
}


# Pure rules ---------------------------------------------------------------------------

def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed try: 30 s, 1 min, 2 min … 30 min."""
    return min(BACKOFF_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)


def after_failure(attempts: int, retryable: bool, now: float) -> tuple[State, float | None]:
    """The state and next try after a failed try (attempts counts it)."""
    if retryable and attempts < MAX_ATTEMPTS:
        return State.PENDING, now + backoff(attempts)
    return State.FAILED, None


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


# The outbox ---------------------------------------------------------------------------

def recipient_of(db: sqlite_utils.Database, household: str) -> str:
    """The household's phone: the first resident on file with one; "" when none has."""
    row = next(db.query("select phone from residents where household = ? and "
                        "coalesce(phone, '') != '' order by id limit 1", [household]), None)
    return row["phone"] if row else ""


def _building_of(db: sqlite_utils.Database, household: str) -> str:
    row = next(db.query("select building from residents where household = ? limit 1",
                        [household]), None)
    return row["building"] if row else household.split("-")[0]


def _event(db, nid: int, before: State | None, after: State, at: float, actor: str = "",
           detail: str = "") -> None:
    db["notification_events"].insert({"notification": nid, "state_from": before and before.value,
                                      "state_to": after.value, "at": at, "actor": actor,
                                      "detail": detail})


def _change(db, nid: int, before: State, after: State, at: float, changes: dict,
            actor: str = "", detail: str = "") -> None:
    """Move a row if ALLOWED says so: row and event together (callers hold the transaction)."""
    if after not in ALLOWED[before]:
        raise NotifyError(f"notification {nid} is {before.value}: it cannot become {after.value}")
    db["notifications"].update(nid, {**changes, "state": after.value})
    _event(db, nid, before, after, at, actor, detail)


def _row(db, nid: int) -> dict | None:
    return next(db.query("select * from notifications where id = ?", [nid]), None)


def queue(db: sqlite_utils.Database, *, kind: Kind | str, key: str, body: str, at: float,
          household: str | None = None, building: str | None = None,
          recipient: str | None = None, hold: float = HOLD_S) -> int | None:
    """Queue a message, or replace the body of the unsent one with the same key; its id.

    The recipient is the household's phone on file (`recipient` overrides); a household
    with none gets a `skipped` row. A message with no household (a building's) goes out
    with the recipient given, "" for a webhook to route. None when the body is empty.
    Safe inside the caller's transaction (it becomes a savepoint).
    """
    kind = Kind(kind)
    if not body.strip():
        return None
    if household and not building:
        building = _building_of(db, household)
    with write_transaction(db):
        phone = recipient if recipient is not None else (
            recipient_of(db, household) if household else "")
        state = State.SKIPPED if household and not phone else State.PENDING
        doc = {"kind": kind.value, "body": body, "household": household, "building": building,
               "recipient": phone}
        if state is State.SKIPPED:
            doc["last_error"] = NO_PHONE
        waiting = next(db.query("select id, state from notifications where key = ? and "
                                "state in ('pending', 'skipped') order by id desc limit 1",
                                [key]), None)
        if waiting is not None:
            before = State(waiting["state"])
            if before is State.SKIPPED and state is State.PENDING:
                doc.update(attempts=0, next_try=at + hold, last_error=None)
            _change(db, waiting["id"], before, state, at, doc, detail="body replaced")
            return waiting["id"]
        nid = db["notifications"].insert({**doc, "key": key, "state": state.value,
                                          "attempts": 0, "next_try": at + hold,
                                          "created_at": at}).last_pk
        _event(db, nid, None, state, at, detail="queued")
    return nid


def _meta(row: dict) -> dict:
    return {k: row[k] for k in ("id", "kind", "key", "household", "building")}


def _claim(db: sqlite_utils.Database, nid: int, now: float) -> dict | None:
    """Take a due row for one try (attempts + 1, leased); None if another pass took it."""
    with write_transaction(db):
        cur = db.execute("update notifications set attempts = attempts + 1, next_try = ? "
                         "where id = ? and state = 'pending' and next_try <= ?",
                         [now + LEASE_S, nid, now])
        return _row(db, nid) if cur.rowcount == 1 else None


def _sent(db: sqlite_utils.Database, tried: dict, now: float, channel: str) -> None:
    with write_transaction(db):
        cur = _row(db, tried["id"])
        done = {"sent_at": now, "channel": channel, "last_error": None,
                "body": tried["body"], "recipient": tried["recipient"]}
        _change(db, tried["id"], State.PENDING, State.SENT, now, done)
        if (cur["state"], cur["body"], cur["recipient"]) != (
                State.PENDING.value, tried["body"], tried["recipient"]):
            # Replaced while on the wire: what went out stays here, the newer body follows.
            nid = db["notifications"].insert({
                **{k: cur[k] for k in ("key", "kind", "household", "building", "recipient",
                                       "body", "state", "last_error")},
                "attempts": 0, "next_try": now, "created_at": now}).last_pk
            _event(db, nid, None, State(cur["state"]), now, detail=f"follows {tried['id']}")


def _failed(db: sqlite_utils.Database, tried: dict, now: float, channel: str,
            error: str, retryable: bool) -> None:
    after, next_try = after_failure(tried["attempts"], retryable, now)
    with write_transaction(db):
        if _row(db, tried["id"])["state"] != State.PENDING.value:
            return                   # turned skipped meanwhile: that is what the office sees
        changes = {"last_error": error[:500], "channel": channel, "next_try": next_try}
        _change(db, tried["id"], State.PENDING, after, now, changes,
                detail=f"try {tried['attempts']}: {error[:500]}")


def deliver_due(db: sqlite_utils.Database, sender: Sender, now: float,
                limit: int = 100) -> tuple[int, int]:
    """One delivery pass over the pending rows due by `now`: (sent, failed tries).

    A retryable failure waits `backoff(attempts)`; after MAX_ATTEMPTS tries, or at once
    for a permanent one, the row is `failed` with its error kept.
    """
    if db.conn.in_transaction:
        raise NotifyError("deliver_due sends over the network: call it outside a transaction")
    due = [r["id"] for r in db.query("select id from notifications where state = 'pending' "
                                     "and next_try <= ? order by next_try, id limit ?",
                                     [now, limit])]
    sent = failed = 0
    channel = getattr(sender, "channel", type(sender).__name__)
    for nid in due:
        tried = _claim(db, nid, now)
        if tried is None:
            continue
        try:
            sender.send(tried["recipient"] or "", tried["body"], _meta(tried))
        except SendError as exc:
            _failed(db, tried, now, channel, str(exc), exc.retry)
            failed += 1
        except Exception as exc:   # a sender's bug must not stop the pass or lose the row
            log.exception("sender %s failed on notification %s", channel, nid)
            _failed(db, tried, now, channel, f"{type(exc).__name__}: {exc}", True)
            failed += 1
        else:
            _sent(db, tried, now, channel)
            sent += 1
    return sent, failed


def retry(db: sqlite_utils.Database, nid: int, now: float, actor: str = "") -> State:
    """Put a failed or skipped row back to pending, its phone looked up again; its new state."""
    with write_transaction(db):
        row = _row(db, nid)
        if row is None:
            raise NotifyError(f"no notification {nid}")
        before = State(row["state"])
        if before not in (State.FAILED, State.SKIPPED):
            raise NotifyError(f"notification {nid} is {before.value}: only failed or skipped "
                              "ones are retried")
        phone = (recipient_of(db, row["household"]) if row["household"] else "") \
            or row["recipient"] or ""
        after = State.SKIPPED if row["household"] and not phone else State.PENDING
        _change(db, nid, before, after, now,
                {"recipient": phone, "attempts": 0, "next_try": now,
                 "last_error": NO_PHONE if after is State.SKIPPED else None},
                actor, "retry")
    return after


def listing(db: sqlite_utils.Database, state: State | str | None = None,
            limit: int = 200) -> list[dict]:
    """Newest first, optionally of one state."""
    where, args = ("where state = ?", [State(state).value]) if state else ("", [])
    return list(db.query(f"select * from notifications {where} order by id desc limit ?",
                         [*args, limit]))


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many rows in each state (every state present, 0 when none)."""
    found = {r["state"]: r["n"] for r in db.query(
        "select state, count(*) as n from notifications group by state")}
    return {s.value: found.get(s.value, 0) for s in State}


# The worker ---------------------------------------------------------------------------

def notify_worker(db_path: Path, sender: Sender, interval: float = 5.0,
                  clock: Callable[[], float] = time.time) -> Periodic:
    """Deliver what is due every `interval` s on its own connection (a daemon thread).

        worker = notify_worker(home.hub_db, sender_from_config(home)).start()   # hub serve

    A pass stuck on a slow receiver is left behind at stop: the rows it had claimed are
    due again after LEASE_S.
    """
    return Periodic("hub-notify", lambda db, now: deliver_due(db, sender, now), interval,
                    clock=clock, db_path=db_path, join_s=10)
