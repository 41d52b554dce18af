"""The hub's outbox: messages queued in the hub database and delivered by a sender.

Residents' notices (hub/notify.py: pickup codes, group purchases, overdue parcels) and
the office's alerts (hub/alert_delivery.py) both go through it. A waiting row with the
same key is updated, not doubled; a failed send is tried again with backoff, then
listed as `failed`; the office can retry a failed or skipped one.

No write transaction is held during network I/O: a row is claimed (attempts + 1 and a
lease on next_try) in one short transaction, sent, and its outcome written in another.
Every state change goes through `_change` (table ALLOWED) with an event in
`notification_events`.
"""
from __future__ import annotations

import logging
from enum import Enum

import sqlite_utils

from gatehouse.db import write_transaction
from hub.notify_senders import NotifyError, Sender, SendError

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
    ALERT = "alert"        # an alert for the office (hub/alert_delivery.py), sent per route


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
                limit: int = 100, keys: str | None = None) -> tuple[int, int]:
    """One delivery pass over the pending rows due by `now`: (sent, failed tries).

    Without `keys`, the residents' rows (every kind but alerts); with it, only the rows
    whose key starts with it (one alert route's, `alert:<route>:`), so each row goes out
    through the sender it was queued for. A retryable failure waits `backoff(attempts)`;
    after MAX_ATTEMPTS tries, or at once for a permanent one, the row is `failed` with
    its error kept.
    """
    if db.conn.in_transaction:
        raise NotifyError("deliver_due sends over the network: call it outside a transaction")
    if keys is None:
        which, args = "kind != ?", [Kind.ALERT.value]
    else:
        which, args = "substr(key, 1, ?) = ?", [len(keys), keys]
    due = [r["id"] for r in db.query(f"select id from notifications where state = 'pending' "
                                     f"and next_try <= ? and {which} order by next_try, id "
                                     "limit ?", [now, *args, limit])]
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
            limit: int = 200, kind: Kind | str | None = None) -> list[dict]:
    """Newest first, optionally of one state; the residents' rows, or one `kind`'s
    (Kind.ALERT: the office's alerts, listed on their own page)."""
    which, args = _kinds(kind)
    if state:
        which, args = f"{which} and state = ?", [*args, State(state).value]
    return list(db.query(f"select * from notifications where {which} order by id desc "
                         "limit ?", [*args, limit]))


def counts(db: sqlite_utils.Database, kind: Kind | str | None = None) -> dict[str, int]:
    """How many rows in each state (every state present, 0 when none); the residents'
    rows, or one `kind`'s."""
    which, args = _kinds(kind)
    found = {r["state"]: r["n"] for r in db.query(
        f"select state, count(*) as n from notifications where {which} group by state", args)}
    return {s.value: found.get(s.value, 0) for s in State}


def _kinds(kind: Kind | str | None) -> tuple[str, list]:
    if kind is None:
        return "kind != ?", [Kind.ALERT.value]
    return "kind = ?", [Kind(kind).value]
