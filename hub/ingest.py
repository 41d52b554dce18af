"""Storing what the gates send: idempotent by event id, in one transaction per batch.

No MQTT here (hub/sync.py feeds it): a list of raw messages in, rows written, acks to
send out. A malformed, oversized or unverifiable message is quarantined with its
reason and never stops the rest. What two gates did offline that the policy would not
have allowed together is recorded as a conflict for the office, never dropped.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from gatehouse import topics
from gatehouse.db import write_transaction
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
from gatehouse.policy import BuildingStatus, Policy
from hub import parcels
from hub.gate_quota import GateQuota, take_events, take_quarantine
from hub.parcels import handout
from hub.store import add_alert as _alert
from hub.store import building_status_at

log = logging.getLogger(__name__)
QUARANTINE_KEEP_BYTES = 64 * 1024
VISITOR_HOURS = 4  # a walk-in's registration is valid this long
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
           gates: set[str] | None = None, quota: GateQuota = GateQuota()) -> Ingested:
    """Store a batch of messages in one transaction; returns the acks to publish."""
    gates = known_gates(db) if gates is None else gates
    result = Ingested()
    with write_transaction(db):
        for m in messages:
            acks, stored = len(result.acks), result.stored
            try:
                with db.atomic():  # a savepoint: a bad message undoes only itself
                    _one(db, m, policy, gates, result, quota)
            except WireError as exc:
                result.stored = stored
                _quarantine(db, m, str(exc), quota=quota, result=result)
            except Exception as exc:  # a bug must not stop the other gates' events
                del result.acks[acks:]
                result.stored = stored
                _quarantine(db, m, f"could not store: {type(exc).__name__}: {exc}",
                            quota=quota, result=result)
    return result


def _one(db, m: Incoming, policy: Policy, gates: set[str], result: Ingested,
         quota: GateQuota) -> None:
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
        for e in list(good):  # sound alone, but not what this gate could have logged
            problem = _inner_problem(gate, e)
            if problem:
                good.remove(e)
                bad.append((e.seq, e.model_dump(mode="json"), problem))
        unacked = _events(db, gate, good, m.received_at, policy, result, quota)
        if unacked is None:
            result.over_quota += 1
            return  # not acknowledged: the gate keeps them and sends them again later
        kept = [seq for seq, raw, reason in bad  # kept (with its seq): the gate stops resending
                if _quarantine(db, m, f"event {seq}: {reason}",
                               json.dumps(raw, ensure_ascii=False).encode(), quota, result)]
        # One over the quarantine budget is not acknowledged: its gate keeps it.
        seqs = [e.seq for e in good if e.seq not in unacked] + [seq for seq in kept if seq]
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
            _alert(db, m.received_at, gate, "gate_offline",
                   f"offline:{gate}:{int(m.received_at) // 60}", {})
    elif leaf == "heartbeat":
        beat = parse(Heartbeat, m.payload)
        if beat.gate != gate:
            raise WireError(f"heartbeat names gate {beat.gate!r} on gate {gate!r}'s topic")
        db.execute("update gates set heartbeat_at = ?, heartbeat = ?, online = 1 where id = ?",
                   [m.received_at, beat.model_dump_json(), gate])
    else:
        raise WireError(f"unexpected topic {m.topic[:100]}")


def _events(db, gate: str, events: list[Event], received_at: float, policy: Policy,
            result: Ingested, quota: GateQuota = GateQuota()) -> set[int] | None:
    """Insert a batch's new events at once; derive passages, alerts and conflicts.
    Returns the seqs not to acknowledge (an id conflict that could not be kept), or
    None, with nothing written, when the gate's daily budget would be exceeded."""
    if not events:
        return set()
    ids = [e.id for e in events]
    known = {r[0]: r for r in db.execute(
        "select id, gate, seq, kind, at, payload from gate_events "
        f"where id in ({','.join('?' * len(ids))})", ids)}
    new: dict[str, Event] = {}
    clashes: list[Event] = []
    for e in events:
        if e.id in known:
            same = _same(gate, e, known[e.id])
        elif e.id in new:
            same = new[e.id] == e
        else:
            new[e.id] = e
            continue
        result.duplicates += 1
        if not same:  # a resend is identical; anything else is not a resend
            clashes.append(e)
    rows = [(e.id, gate, e.seq, e.kind.value, e.at, received_at,
             json.dumps(e.payload, ensure_ascii=False)) for e in new.values()]
    if rows and not take_events(db, gate, received_at,
                                sum(len(r[6].encode()) + 80 for r in rows), quota):
        return None
    # Acknowledged only once its content is kept in the quarantine: never lost.
    unacked = {e.seq for e in clashes
               if not _id_conflict(db, gate, e, known.get(e.id), received_at, result, quota)}
    _seq_reuse(db, gate, list(new.values()), received_at)
    result.stored += len(new)
    db.conn.executemany(
        "insert into gate_events (id, gate, seq, kind, at, received_at, payload) "
        "values (?, ?, ?, ?, ?, ?, ?)", rows)
    attempts = [e for e in new.values() if e.kind is EventKind.ATTEMPT]
    db.conn.executemany(
        "insert into passages (event_id, gate, at, direction, outcome, person_ref, pass_id, "
        "household, building, name, who, reasons, policy_version) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(e.id, gate, e.at, p.get("direction"), p.get("outcome"), p.get("person_ref"),
          p.get("pass_id"), p.get("household"), p.get("building"), p.get("name"),
          p.get("who"), json.dumps(p.get("reasons", [])), p.get("policy_version"))
         for e in attempts for p in (e.payload,)])
    conflicts = result.conflicts
    try:
        with db.atomic():  # one savepoint for the batch: the common case, and fast
            for e in new.values():
                _apply(db, gate, e, received_at, policy, result)
    except Exception:
        # A bug in one event's effects: undone above; apply again one by one, so that
        # only that event is set aside (a savepoint each costs a third of the speed).
        result.conflicts = conflicts
        for e in new.values():
            try:
                with db.atomic():
                    _apply(db, gate, e, received_at, policy, result)
            except Exception as exc:
                log.exception("event %s of %s stored but not applied", e.id, gate)
                _alert(db, e.at, gate, "event_not_applied", e.id,
                       {"kind": e.kind.value, "error": f"{type(exc).__name__}: {exc}"[:300]})
    # A volunteer's decision can arrive before its attempt (new events go first after a
    # reconnect): apply any stored one to the attempts that just arrived.
    for e in attempts:
        for row in db.execute(
                "select payload from gate_events where gate = ? and kind = 'override' and "
                "json_extract(payload, '$.attempt_id') = ?", [gate, e.id]).fetchall():
            _override(db, gate, json.loads(row[0]))
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
    _alert(db, received_at, gate, "duplicate_id_conflict", f"dup:{e.id}:{e.seq}:{e.kind.value}",
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
        _alert(db, received_at, gate, "seq_reused", f"seq:{gate}:{min(reused)}",
               {"first": min(reused), "last": max(reused), "count": len(reused)})


def _apply(db, gate: str, e: Event, received_at: float, policy: Policy,
           result: Ingested) -> None:
    """What one stored event changes: passages' alerts and conflicts, parcels, visitors."""
    p = e.payload
    if e.kind is EventKind.ATTEMPT:
        if p.get("alert"):
            _alert(db, e.at, gate, (p.get("reasons") or ["alert"])[0], e.id,
                   {"name": p.get("name"), "household": p.get("household")})
        if p.get("outcome") == "admit" and p.get("person_ref"):
            result.conflicts += _conflicts(db, e.id, policy)
    elif e.kind in (EventKind.DOOR_FORCED, EventKind.DOOR_HELD):
        _alert(db, e.at, gate, e.kind.value, e.id, {})
    elif e.kind is EventKind.STARTED and p.get("pins") == "mock" and p.get("role") != "parcels":
        _alert(db, e.at, gate, "mock_pins", e.id, {})   # a gate that drives no door
    elif e.kind is EventKind.PARCEL and p.get("waybill") and p.get("id"):
        # Slotted now, inside the write lock: after any move that freed a slot.
        parcels.receive(db, gate, p, e.at, max(received_at, time.time()))
    elif e.kind is EventKind.PARCEL_VOID and p.get("parcel"):
        parcels.void(db, str(p["parcel"]), gate, e.at, f"{gate}/{p.get('by')}")
    elif e.kind is EventKind.PICKUP:
        handout.pickup_event(db, gate, e.id, p, e.at)
    elif e.kind is EventKind.VISITOR:
        db["visitors"].insert({  # a walk-in registered at the gate, masked there
            "name": p.get("name"), "phone": p.get("phone"),
            "host_household": p.get("host_household"), "from_at": int(e.at),
            "until_at": int(e.at) + VISITOR_HOURS * 3600, "purpose": p.get("purpose"),
            "created_at": int(received_at), "created_by": f"{gate}/{p.get('by')}"})
    elif e.kind is EventKind.OVERRIDE and p.get("attempt_id"):
        _override(db, gate, p)


def _override(db, gate: str, p: dict) -> None:
    """A volunteer's decision on a referred attempt of the same gate."""
    if p.get("outcome", "admit") in ("admit", "refuse"):
        db.execute("update passages set outcome = ? where event_id = ? and gate = ?",
                   [p.get("outcome", "admit"), p["attempt_id"], gate])


def _conflicts(db, event_id: str, policy: Policy) -> int:
    """Passback across gates and exit quotas spent twice, judged on the gates' times."""
    found = 0
    row = next(db.query("select * from passages where event_id = ?", [event_id]))
    neighbours = ("select * from passages where person_ref = ? and outcome = 'admit' "
                  "and event_id != ? and at {op} ? order by at {order} limit 1")
    for op, order in (("<=", "desc"), (">=", "asc")):
        other = next(db.query(neighbours.format(op=op, order=order),
                              [row["person_ref"], event_id, row["at"]]), None)
        if other and other["direction"] == row["direction"] and other["gate"] != row["gate"]:
            found += _conflict(db, row["at"], "passback_across_gates", row,
                               [other["event_id"], event_id],
                               {"gates": sorted({row["gate"], other["gate"]}),
                                "direction": row["direction"]})
    if row["direction"] == "out" and row["household"] and \
            building_status_at(db, row["building"], row["at"]) is BuildingStatus.PRECAUTION:
        q = policy.quota
        key, value = ("household", row["household"]) if q.scope == "household" else \
            ("person_ref", row["person_ref"])
        exits = [r["event_id"] for r in db.query(
            f"select event_id from passages where {key} = ? and direction = 'out' and "
            "outcome = 'admit' and at > ? and at <= ? order by at",
            [value, row["at"] - q.period_hours * 3600, row["at"]])]
        if len(exits) > q.exits:
            found += _conflict(db, row["at"], "quota_exceeded", row, exits,
                               {"allowed": q.exits, "used": len(exits), "scope": q.scope})
    return found


def _conflict(db, at: float, kind: str, row: dict, event_ids: list[str], detail: dict) -> int:
    ids = json.dumps(sorted(event_ids))
    if next(db.query("select 1 from conflicts where kind = ? and event_ids = ?", [kind, ids]),
            None):
        return 0
    db["conflicts"].insert({"at": at, "kind": kind, "person_ref": row["person_ref"],
                            "household": row["household"], "event_ids": ids,
                            "detail": json.dumps(detail, ensure_ascii=False)})
    _alert(db, at, row["gate"], f"conflict:{kind}", row["event_id"], detail)
    return 1


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


def reapply(db: sqlite_utils.Database, policy: Policy, at: float) -> tuple[int, int]:
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
                _apply(db, r["gate"], e, r["received_at"], policy, Ingested())
                db.execute("update alerts set acked_at = ?, acked_by = 'reapply', note = "
                           "'applied again' where id = ?", [at, r["alert"]])
            applied += 1
        except Exception:
            log.exception("event %s of %s still not applied", r["id"], r["gate"])
            failing += 1
    return applied, failing
