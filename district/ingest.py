"""Storing what the compounds send: a batch of stream messages in one transaction.

No NATS here (district/worker.py feeds it): raw messages in, rows written, the cseq
ranges to acknowledge out. As at the hub (hub/ingest.py): idempotent by (compound,
event id), a broken message is set aside in `quarantine` with its reason and
acknowledged (never a crash nor a redelivery loop), one broken event never holds back
the rest of its batch, and a compound's received cseq ranges are kept so its gaps show
(district/ranges.py).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from pydantic import ValidationError

from gatehouse.district_wire import (
    COMPOUND_ID,
    CompoundStatus,
    FeedBatch,
    FeedEvent,
    OrderReport,
)
from gatehouse.events import MAX_MESSAGE_BYTES, WIRE_VERSION, WireError, parse, ranges
from district.ranges import add_ranges, gaps  # noqa: F401  (gaps: district.ingest.gaps)
from district.schema import ensure_partitions, local_day

log = logging.getLogger(__name__)
QUARANTINE_KEEP_BYTES = 64 * 1024
QUARANTINE_BUDGET_BYTES = 1024 * 1024   # a compound's, over the last 24 hours
# An event dated more than a day after the broker received it is set aside: a gate's
# clock can be wrong, and each new day is a new partition (a compound must not be able
# to make the district create hundreds of tables with one message).
FUTURE_S = 86400
# A larger cseq or gate_seq is set aside. Not bigint's 2**63-1: the ranges' merge adds 1
# to a cseq in SQL, which overflowed at that edge (docs/security.md D13); 2**53 is the
# wire's bound for every other sequence, and no hub comes near it.
MAX_SEQ = 2**53


@dataclass(frozen=True)
class Incoming:
    subject: str            # district.<cid>.gatehouse.hub.district.<leaf>
    data: bytes
    received_at: float      # when the district's broker took it (epoch s)


@dataclass
class Stored:
    acks: dict[str, list[int]] = field(default_factory=dict)   # compound -> cseqs
    stored: int = 0
    duplicates: int = 0
    expired: int = 0          # older than the retention: acknowledged, not kept
    quarantined: int = 0
    over_budget: int = 0      # bad and over its compound's quarantine budget: counted only
    statuses: int = 0
    reports: int = 0

    def ack_ranges(self) -> dict[str, list[tuple[int, int]]]:
        return {cid: ranges(seqs) for cid, seqs in self.acks.items() if seqs}


@dataclass
class _Feed:
    compound: str
    events: list[FeedEvent]
    bad: list[tuple[int | None, str, bytes]]   # (cseq, reason, raw event)


def _address(subject: str) -> tuple[str, str]:
    parts = subject.split(".")
    if len(parts) != 6 or parts[0] != "district" or parts[2:5] != \
            ["gatehouse", "hub", "district"] or not COMPOUND_ID.match(parts[1]):
        raise WireError(f"not a compound's subject: {subject[:120]}")
    return parts[1], parts[5]


def _feed(cid: str, data: bytes) -> _Feed:
    try:
        batch = parse(FeedBatch, data)
        named, good, bad = batch.compound, list(batch.events), []
    except WireError as exc:
        named, good, bad = _salvage(data, exc)
    if named != cid:
        raise WireError(f"batch names compound {named!r} on {cid!r}'s subject")
    # The wire model has no upper bound on the sequences; the store has bigint.
    big = [e for e in good if e.cseq > MAX_SEQ or e.gate_seq > MAX_SEQ]
    bad.extend((e.cseq if e.cseq <= MAX_SEQ else None,
                f"event {e.cseq}: a sequence number beyond 2**63-1",
                e.model_dump_json().encode()) for e in big)
    return _Feed(cid, [e for e in good if e not in big], bad)


def _salvage(data: bytes, exc: WireError) -> tuple[str, list[FeedEvent], list]:
    """A batch whose envelope is sound but some events are not: the good ones go in, the
    bad ones are set aside one by one. A broken envelope raises the original error."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise exc
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):   # 100,000 nested brackets
        raise exc from None
    if not isinstance(doc, dict) or doc.get("v", WIRE_VERSION) != WIRE_VERSION or \
            not isinstance(doc.get("compound"), str) or \
            not isinstance(doc.get("events"), list) or not doc["events"]:
        raise exc
    good, bad = [], []
    for raw in doc["events"]:
        try:
            good.append(FeedEvent.model_validate(raw))
        except (ValidationError, RecursionError) as err:
            first = err.errors()[0] if isinstance(err, ValidationError) else \
                {"loc": (), "msg": "nested too deep"}
            seq = raw.get("cseq") if isinstance(raw, dict) else None
            ok = isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= MAX_SEQ
            where = ".".join(str(p) for p in first["loc"]) or "event"
            bad.append((seq if ok else None, f"event {seq}: {where}: {first['msg']}",
                        json.dumps(raw, ensure_ascii=False).encode()))
    return doc["compound"], good, bad


def store(conn: psycopg.Connection, messages: list[Incoming], zone: ZoneInfo,
          retention_days: int | None = None) -> Stored:
    """Store a batch of stream messages; commits before it returns (ack after this)."""
    result = Stored()
    parsed: list[tuple[Incoming, str | None, str, object]] = []
    for m in messages:   # parsing first: partitions are made before the transaction
        try:
            cid, leaf = _address(m.subject)
            body: object
            if leaf == "feed":
                body = _feed(cid, m.data)
            elif leaf == "status":
                body = parse(CompoundStatus, m.data)
            elif leaf == "reports":
                body = parse(OrderReport, m.data)
            else:
                raise WireError(f"unexpected subject {m.subject[:120]}")
            parsed.append((m, cid, leaf, body))
        except WireError as exc:
            parsed.append((m, None, "bad", str(exc)))
        except Exception as exc:   # noqa: BLE001 (whatever it is, it is not read twice)
            parsed.append((m, None, "bad", f"could not read: {type(exc).__name__}"))
    cutoff = (datetime.now(UTC) - timedelta(days=retention_days)).timestamp() \
        if retention_days else 0.0
    ensure_partitions(conn, {local_day(e.at, zone) for m, _, leaf, b in parsed
                             if leaf == "feed" for e in b.events  # type: ignore[attr-defined]
                             if cutoff <= e.at <= m.received_at + FUTURE_S}, zone)
    with conn.transaction():
        # Each compound's row locked first, in one order: two workers with messages of
        # the same compounds take turns on its ranges instead of deadlocking.
        cids = sorted({cid for _, cid, _, _ in parsed if cid})
        conn.execute("insert into compounds (id) select unnest(%s::text[]) order by 1 "
                     "on conflict (id) do update set id = excluded.id", [cids])
        for m, cid, leaf, body in parsed:
            if leaf == "bad":
                _quarantine(conn, m, cid, str(body), result)
                continue
            counts = (result.stored, result.duplicates, result.expired, result.quarantined,
                      result.over_budget)
            try:
                with conn.transaction():   # a savepoint: a bad message undoes only itself
                    _one(conn, m, cid, leaf, body, cutoff, result)  # type: ignore[arg-type]
            except psycopg.OperationalError:
                raise   # the database went away: nothing acked, all of it comes again
            except Exception as exc:  # a bug or a bad value must not block the stream
                (result.stored, result.duplicates, result.expired, result.quarantined,
                 result.over_budget) = counts
                if isinstance(body, _Feed):
                    _feed_apart(conn, m, cid, body, cutoff, result)  # type: ignore[arg-type]
                else:
                    _quarantine(conn, m, cid,
                                f"could not store: {type(exc).__name__}: {exc}", result)
        for cid, seqs in result.acks.items():
            add_ranges(conn, cid, ranges(seqs))
    return result


def _one(conn: psycopg.Connection, m: Incoming, cid: str, leaf: str, body: object,
         cutoff: float, result: Stored) -> None:
    if isinstance(body, _Feed):
        late = m.received_at + FUTURE_S
        body.bad.extend((e.cseq, f"event {e.cseq}: at {e.at:.0f} is more than a day after "
                                 f"it was received", e.model_dump_json().encode())
                        for e in body.events if e.at > late)
        body.events[:] = [e for e in body.events if e.at <= late]
        _events(conn, body, cutoff, result)
        for cseq, reason, raw in body.bad:
            _quarantine(conn, m, cid, reason, result, raw)
            if cseq is not None:   # kept here: the hub may stop sending it
                result.acks.setdefault(cid, []).append(cseq)
    elif isinstance(body, CompoundStatus):
        if body.compound != cid:
            raise ValueError(f"status names compound {body.compound!r}")
        # The broker's time, not the compound's clock, says when it was last heard.
        conn.execute(
            "update compounds set name = %s, status = %s, last_status_at = %s "
            "where id = %s and (last_status_at is null or last_status_at <= %s)",
            [body.name, body.model_dump_json(), _ts(m.received_at), cid,
             _ts(m.received_at)])
        result.statuses += 1
    elif isinstance(body, OrderReport):
        if body.compound != cid:
            raise ValueError(f"report names compound {body.compound!r}")
        # A later report of the same order (a resend after a lost link) changes nothing
        # once one was applied: what the compound did stays what the page shows.
        conn.execute(
            "update orders set status = %s, reported_at = %s, report = %s "
            "where compound = %s and seq = %s and status <> 'applied'",
            [body.status.value, _ts(body.at), body.model_dump_json(), cid, body.seq])
        result.reports += 1


def _feed_apart(conn: psycopg.Connection, m: Incoming, cid: str, feed: _Feed,
                cutoff: float, result: Stored) -> None:
    """A batch whose insert failed (a NUL in a name: PostgreSQL text cannot hold it):
    each event alone, so one bad value sets aside that event, not its 499 neighbours."""
    for e in feed.events:
        try:
            with conn.transaction():
                _events(conn, _Feed(cid, [e], []), cutoff, result)
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            _quarantine(conn, m, cid, f"event {e.cseq}: could not store: "
                        f"{type(exc).__name__}: {exc}", result, e.model_dump_json().encode())
            result.acks.setdefault(cid, []).append(e.cseq)   # kept aside, as a bad one
    for cseq, reason, raw in feed.bad:
        _quarantine(conn, m, cid, reason, result, raw)
        if cseq is not None:
            result.acks.setdefault(cid, []).append(cseq)


def _events(conn: psycopg.Connection, feed: _Feed, cutoff: float, result: Stored) -> None:
    keep = [e for e in feed.events if e.at >= cutoff]
    result.expired += len(feed.events) - len(keep)
    result.acks.setdefault(feed.compound, []).extend(e.cseq for e in feed.events)
    if not keep:
        return
    cols = list(zip(*[(e.id, e.cseq, e.gate, e.gate_seq, e.kind, _ts(e.at), e.direction,
                       e.outcome, e.person_ref, e.building, e.household, e.name,
                       json.dumps(e.reasons, ensure_ascii=False), e.alert) for e in keep]))
    # One statement for the whole batch: arrays in, duplicates skipped by the key.
    cur = conn.execute(
        "insert into events (compound, event_id, cseq, gate, gate_seq, kind, at, direction,"
        " outcome, person_ref, building, household, name, reasons, alert) "
        "select %s, u.id, u.cseq, u.gate, u.gate_seq, u.kind, u.at, u.direction, u.outcome,"
        " u.person_ref, u.building, u.household, u.name,"
        " array(select jsonb_array_elements_text(u.reasons::jsonb)), u.alert "
        "from unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[], %s::text[],"
        " %s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::text[], %s::text[], %s::boolean[]) as u(id, cseq, gate, gate_seq, kind, at,"
        " direction, outcome, person_ref, building, household, name, reasons, alert) "
        "on conflict do nothing", [feed.compound, *map(list, cols)])
    result.stored += cur.rowcount
    result.duplicates += len(keep) - cur.rowcount
    conn.execute("update compounds set last_event_at = greatest(last_event_at, %s) "
                 "where id = %s", [max(_ts(e.at) for e in keep), feed.compound])


def _quarantine(conn: psycopg.Connection, m: Incoming, cid: str | None, reason: str,
                result: Stored, raw: bytes | None = None) -> None:
    """Keep a bad message with its reason, within its compound's budget of the last 24
    hours; over it, only counted (quarantine_overflow), and acknowledged all the same:
    a compound's login must not be able to fill the district's disk with junk."""
    kept = bytes((raw or m.data)[:QUARANTINE_KEEP_BYTES])
    who = cid or (m.subject.split(".")[1][:40] if m.subject.count(".") >= 1 else "?")
    used = conn.execute("select coalesce(sum(length(payload) + length(reason)), 0) "
                        "from quarantine where compound = %s and at > %s",
                        [who, _ts(m.received_at - 86400)]).fetchone()[0]
    if used + len(kept) > QUARANTINE_BUDGET_BYTES:
        conn.execute(
            "insert into quarantine_overflow as o (compound, day, messages, bytes) "
            "values (%s, %s, 1, %s) on conflict (compound, day) do update set "
            "messages = o.messages + 1, bytes = o.bytes + excluded.bytes",
            [who, _ts(m.received_at).date(), len(m.data)])
        result.over_budget += 1
        return
    conn.execute("insert into quarantine (at, subject, compound, reason, payload) "
                 "values (%s, %s, %s, %s, %s)",
                 [_ts(m.received_at), m.subject[:200], who,
                  reason.replace("\x00", "")[:500],   # text cannot hold a NUL
                  kept])
    result.quarantined += 1
    log.warning("quarantined a message on %s: %s", m.subject[:120], reason[:200])


def _ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)

