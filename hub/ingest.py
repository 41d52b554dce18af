"""Storing what the gates send: idempotent by event id, in one transaction per batch.

No MQTT here (hub/sync.py feeds it): a list of raw messages in, rows written, acks to
send out. A malformed, oversized or unverifiable message is quarantined with its
reason and never stops the rest. What two gates did offline that the policy would not
have allowed together is recorded as a conflict for the office, never dropped.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from gatehouse import topics
from gatehouse.db import write_transaction
from gatehouse.event_payloads import AttemptPayload, EventPayload, PayloadError, read_payload
from gatehouse.events import (
    MAX_EVENTS_PER_BATCH,
    MAX_MESSAGE_BYTES,
    WIRE_VERSION,
    Ack,
    Event,
    EventBatch,
    EventKind,
    Heartbeat,
    WireError,
    parse,
    ranges,
)
from gatehouse.policy import Policy
from hub import effects
from hub.event_handlers import EventHandlers
from hub.alert_kinds import AlertKind
from hub.gate_quota import GateQuota, take_events, take_quarantine
from hub.alert_log import add_alert as _alert

log = logging.getLogger(__name__)
QUARANTINE_KEEP_BYTES = 64 * 1024
PAYLOAD_PAST_S = 30 * 86400    # a time inside a payload, around its event's own time
PAYLOAD_FUTURE_S = 7 * 86400


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    received_at: float
    token: Any = None   # whatever the transport needs to acknowledge it


@dataclass
class Ingested:
    acks: list[tuple[str, Ack]] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    conflicts: int = 0
    id_conflicts: int = 0      # an event id seen again with other content
    over_quota: int = 0        # messages neither stored nor acknowledged (gate_quota)


def known_gates(db: sqlite_utils.Database) -> set[str]:
    return {r["id"] for r in db.query("select id from gates where retired_at is null")}


def ingest(db: sqlite_utils.Database, messages: list[Incoming], policy: Policy,
           handlers: EventHandlers, gates: set[str] | None = None,
           quota: GateQuota = GateQuota()) -> Ingested:
    """Store a batch of messages in one transaction; returns the acks to publish.
    `handlers`: what each stored kind changes, as the features registered it at start
    (hub/features.py)."""
    gates = known_gates(db) if gates is None else gates
    result = Ingested()
    with write_transaction(db):
        for m in messages:
            acks, stored = len(result.acks), result.stored
            try:
                with db.atomic():  # a savepoint: a bad message undoes only itself
                    _one(db, m, policy, handlers, gates, result, quota)
            except WireError as exc:
                result.stored = stored
                _quarantine(db, m, str(exc), quota=quota, result=result)
            except Exception as exc:  # a bug must not stop the other gates' events
                del result.acks[acks:]
                result.stored = stored
                _quarantine(db, m, f"could not store: {type(exc).__name__}: {exc}",
                            quota=quota, result=result)
    return result


def _one(db, m: Incoming, policy: Policy, handlers: EventHandlers, gates: set[str],
         result: Ingested, quota: GateQuota) -> None:
    gate = topics.gate_of(m.topic)
    if gate is None:
        raise WireError(f"not a gate topic: {m.topic[:100]}")
    if gate not in gates:
        raise WireError(f"gate {gate!r} is not registered (or retired)")
    leaf = m.topic.rsplit("/", 1)[1]
    if leaf == "events":
        try:
            batch = parse(EventBatch, m.payload)
            named, good, bad = batch.gate, batch.events, []
        except WireError as exc:
            named, good, bad = _salvage(m.payload, exc)
        if named != gate:
            raise WireError(f"batch names gate {named!r} on gate {gate!r}'s topic")
        read: list[tuple[Event, EventPayload]] = []
        for e in good:  # sound alone, but not what this gate could have logged
            try:  # its envelope first: a payload `at` of "soon" is "not a time"
                problem = _inner_problem(gate, e)
                if problem is None:
                    read.append((e, read_payload(e.kind, e.payload)))
                    continue
            except PayloadError as exc:  # a key missing or of the wrong type
                problem = str(exc)
            bad.append((e.seq, e.model_dump(mode="json"), problem))
        unacked = _events(db, gate, read, m.received_at, policy, handlers, result, quota)
        if unacked is None:
            result.over_quota += 1
            return  # not acknowledged: the gate keeps them and sends them again later
        kept = [seq for seq, raw, reason in bad  # kept (with its seq): the gate stops resending
                if _quarantine(db, m, f"event {seq}: {reason}",
                               json.dumps(raw, ensure_ascii=False).encode(), quota, result)]
        # One over the quarantine budget is not acknowledged: its gate keeps it.
        seqs = [e.seq for e, _ in read if e.seq not in unacked] + [seq for seq in kept if seq]
        if seqs:
            result.acks.append((gate, Ack(ranges=ranges(sorted(seqs)))))
    elif leaf == "status":
        if m.payload not in (topics.ONLINE, topics.OFFLINE):
            raise WireError("status is online or offline")
        online = m.payload == topics.ONLINE
        was = next(db.query("select online from gates where id = ?", [gate]))["online"]
        db.execute("update gates set online = ?, status_at = ? where id = ?",
                   [int(online), m.received_at, gate])
        # A flood of "offline" is one alert, not thousands: only a gate that was online,
        # or one with no offline alert still open.
        if not online and (was != 0 or not next(db.query(
                "select 1 from alerts where gate = ? and kind = 'gate_offline' and "
                "acked_at is null", [gate]), None)):
            _alert(db, m.received_at, gate, AlertKind.GATE_OFFLINE,
                   f"offline:{gate}:{int(m.received_at) // 60}", {})
    elif leaf == "heartbeat":
        beat = parse(Heartbeat, m.payload)
        if beat.gate != gate:
            raise WireError(f"heartbeat names gate {beat.gate!r} on gate {gate!r}'s topic")
        db.execute("update gates set heartbeat_at = ?, heartbeat = ?, online = 1 where id = ?",
                   [m.received_at, beat.model_dump_json(), gate])
    else:
        raise WireError(f"unexpected topic {m.topic[:100]}")


def _events(db, gate: str, events: list[tuple[Event, EventPayload]], received_at: float,
            policy: Policy, handlers: EventHandlers, result: Ingested,
            quota: GateQuota = GateQuota()) -> set[int] | None:
    """Insert a batch's new events (each with its typed payload) at once; derive
    passages, alerts and conflicts.
    Returns the seqs not to acknowledge (an id conflict that could not be kept), or
    None, with nothing written, when the gate's daily budget would be exceeded."""
    if not events:
        return set()
    ids = [e.id for e, _ in events]
    known = {r[0]: r for r in db.execute(
        "select id, gate, seq, kind, at, payload from gate_events "
        f"where id in ({','.join('?' * len(ids))})", ids)}
    new: dict[str, tuple[Event, EventPayload]] = {}
    clashes: list[Event] = []
    for e, p in events:
        if e.id in known:
            same = _same(gate, e, known[e.id])
        elif e.id in new:
            same = new[e.id][0] == e
        else:
            new[e.id] = (e, p)
            continue
        result.duplicates += 1
        if not same:  # a resend is identical; anything else is not a resend
            clashes.append(e)
    rows = [(e.id, gate, e.seq, e.kind.value, e.at, received_at,
             json.dumps(e.payload, ensure_ascii=False)) for e, _ in new.values()]
    if rows and not take_events(db, gate, received_at,
                                sum(len(r[6].encode()) + 80 for r in rows), quota):
        return None
    # Acknowledged only once its content is kept in the quarantine: never lost.
    unacked = {e.seq for e in clashes
               if not _id_conflict(db, gate, e, known.get(e.id), received_at, result, quota)}
    _seq_reuse(db, gate, [e for e, _ in new.values()], received_at)
    result.stored += len(new)
    db.conn.executemany(
        "insert into gate_events (id, gate, seq, kind, at, received_at, payload) "
        "values (?, ?, ?, ?, ?, ?, ?)", rows)
    attempts: list[tuple[Event, AttemptPayload]] = [
        (e, p) for e, p in new.values() if isinstance(p, AttemptPayload)]
    db.conn.executemany(
        "insert into passages (event_id, gate, at, direction, outcome, person_ref, pass_id, "
        "household, building, name, who, reasons, policy_version) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(e.id, gate, e.at, p.direction.value, p.outcome.value, p.person_ref, p.pass_id,
          p.household, p.building, p.name, p.who, json.dumps(p.reasons), p.policy_version)
         for e, p in attempts])
    conflicts = result.conflicts
    try:
        with db.atomic():  # one savepoint for the batch: the common case, and fast
            for e, p in new.values():
                result.conflicts += handlers.apply(db, gate, e, p, received_at, policy)
    except Exception:
        # A bug in one event's effects: undone above; apply again one by one, so that
        # only that event is set aside (a savepoint each costs a third of the speed).
        result.conflicts = conflicts
        for e, p in new.values():
            try:
                with db.atomic():
                    result.conflicts += handlers.apply(db, gate, e, p, received_at, policy)
            except Exception as exc:
                log.exception("event %s of %s stored but not applied", e.id, gate)
                _alert(db, e.at, gate, AlertKind.EVENT_NOT_APPLIED, e.id,
                       {"kind": e.kind.value, "error": f"{type(exc).__name__}: {exc}"[:300]})
    # A volunteer's decision can arrive before its attempt (new events go first after a
    # reconnect): apply any stored one to the attempts that just arrived.
    for e, _ in attempts:
        for row in db.execute(
                "select payload from gate_events where gate = ? and kind = 'override' and "
                "json_extract(payload, '$.attempt_id') = ?", [gate, e.id]).fetchall():
            try:  # stored before payloads were read through their model: maybe not
                effects.override(db, gate, read_payload(EventKind.OVERRIDE, json.loads(row[0])))
            except PayloadError:
                log.warning("override for %s of %s does not fit its model", e.id, gate)
    return unacked


def _inner_problem(gate: str, e: Event) -> str | None:
    """Fields inside a payload that contradict its envelope (another gate, another time)."""
    p = e.payload
    if "gate" in p and p["gate"] != gate:
        return f"payload names gate {str(p['gate'])[:40]!r}, sent by {gate!r}"
    for key, value in p.items():
        if not (key == "at" or key.endswith(("_at", "_until"))) or value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f"payload {key} is not a time"
        # The event's own time is checked against the wire's bounds; its payload's times
        # must agree with it (a refusal "in 2100" must not sort after every real one).
        low, high = (e.at - 5, e.at + 5) if key == "at" else \
            (e.at - PAYLOAD_PAST_S, e.at + PAYLOAD_FUTURE_S)
        if not low <= value <= high:
            return f"payload {key} {value:.0f} is far from the event's time {e.at:.0f}"
    return None


def _same(gate: str, e: Event, row) -> bool:
    """Whether a stored gate_events row (id, gate, seq, kind, at, payload) is this event."""
    return (row[1] == gate and row[2] == e.seq and row[3] == e.kind.value
            and abs(row[4] - e.at) < 1e-6 and json.loads(row[5]) == e.payload)


def _id_conflict(db, gate: str, e: Event, stored, received_at: float,
                 result: Ingested, quota: GateQuota) -> bool:
    """An event id arriving again with other content (or first stored by another gate):
    kept aside, the office told. False when the quarantine budget would not keep it."""
    result.id_conflicts += 1
    was = {"gate": stored[1], "seq": stored[2], "kind": stored[3]} if stored else \
        {"in": "the same batch"}
    kept = _quarantine(db, Incoming(topics.gate_events(gate), b"", received_at),
                       f"event id {e.id} already stored with other content ({was})",
                       json.dumps(e.model_dump(mode="json"), ensure_ascii=False).encode(),
                       quota, result)
    _alert(db, received_at, gate, AlertKind.DUPLICATE_ID_CONFLICT,
           f"dup:{e.id}:{e.seq}:{e.kind.value}",
           {"event_id": e.id, "seq": e.seq, "kind": e.kind.value, "stored": was})
    return kept


def _seq_reuse(db, gate: str, events: list[Event], received_at: float) -> None:
    """New ids under sequence numbers already stored: a gate restored from an old SD card
    image counts again from an old number. Both are kept; the office is told once."""
    seqs = [e.seq for e in events]
    if not seqs:
        return
    reused = [r[0] for r in db.execute(
        f"select distinct seq from gate_events where gate = ? and seq in "
        f"({','.join('?' * len(seqs))})", [gate, *seqs])]
    if reused:
        _alert(db, received_at, gate, AlertKind.SEQ_REUSED, f"seq:{gate}:{min(reused)}",
               {"first": min(reused), "last": max(reused), "count": len(reused)})


def _quarantine(db, m: Incoming, reason: str, payload: bytes | None = None,
                quota: GateQuota = GateQuota(), result: Ingested | None = None) -> bool:
    """Keep a bad message with its reason, within the gate's daily budget (else False)."""
    kept = bytes((payload or m.payload)[:QUARANTINE_KEEP_BYTES])
    gate = topics.gate_of(m.topic)
    if not take_quarantine(db, gate, m.received_at, len(kept) + len(reason), quota):
        if result is not None:
            result.over_quota += 1
        return False
    db["quarantine"].insert({"at": m.received_at, "topic": m.topic[:200],
                             "gate": gate, "reason": reason[:500], "payload": kept})
    if result is not None:
        result.quarantined += 1
    return True


def _salvage(payload: bytes, exc: WireError) -> tuple[str, list[Event], list]:
    """A batch whose envelope is sound but some events are not: the good ones go in, the
    bad ones are set aside one by one (seq, raw, reason). One broken event must not hold
    back the others, nor make its gate resend the whole batch every 20 s. A broken
    envelope raises the original error (the whole message is quarantined)."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise exc
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise exc from None
    if not isinstance(doc, dict) or doc.get("v", WIRE_VERSION) != WIRE_VERSION or \
            not isinstance(doc.get("gate"), str) or \
            not isinstance(doc.get("events"), list) or \
            not 1 <= len(doc["events"]) <= MAX_EVENTS_PER_BATCH:
        raise exc
    good, bad = [], []
    for raw in doc["events"]:
        try:
            good.append(Event.model_validate(raw))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "event"
            seq = raw.get("seq") if isinstance(raw, dict) else None
            ok_seq = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1
            bad.append((seq if ok_seq else None, raw, f"{where}: {first['msg']}"))
    return doc["gate"], good, bad


def gaps(db: sqlite_utils.Database, gate: str) -> list[tuple[int, int]]:
    """Sequence numbers of a gate the hub has never received, as ranges."""
    rows = db.query("select seq, lag(seq) over (order by seq) as prev from "
                    "(select distinct seq from gate_events where gate = ?)", [gate])
    return [(r["prev"] + 1, r["seq"] - 1) for r in rows
            if r["prev"] is not None and r["seq"] - r["prev"] > 1]


def reapply(db: sqlite_utils.Database, policy: Policy, handlers: EventHandlers,
            at: float) -> tuple[int, int]:
    """Apply again the stored events whose effects failed (`event_not_applied` alerts),
    after the bug is fixed: their alert is closed when it works. (applied, still failing)"""
    rows = list(db.query("select a.id as alert, e.* from alerts a join gate_events e on "
                         "e.id = a.event_id where a.kind = 'event_not_applied' and "
                         "a.acked_at is null order by e.gate, e.seq"))
    applied = failing = 0
    for r in rows:
        e = Event(seq=r["seq"], id=r["id"], kind=r["kind"], at=r["at"],
                  payload=json.loads(r["payload"]))
        try:
            with write_transaction(db):
                handlers.apply(db, r["gate"], e, read_payload(e.kind, e.payload),
                               r["received_at"], policy)
                db.execute("update alerts set acked_at = ?, acked_by = 'reapply', note = "
                           "'applied again' where id = ?", [at, r["alert"]])
            applied += 1
        except Exception:
            log.exception("event %s of %s still not applied", r["id"], r["gate"])
            failing += 1
    return applied, failing
