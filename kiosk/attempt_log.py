"""The gate's own log: every attempt and event, each with its outbox row, in one SQLite file.

An attempt and its outbox row (kiosk/outbox.py) are written in one transaction *before*
the door opens, so a power cut never leaves an opened door without a log line. WAL mode
with synchronous=FULL: a committed row survives the power cut that follows it. The log
also answers what the gate's rules ask of the past: anti-passback and exit quotas, the
sign-in lockouts and the parcels this kiosk handed out.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from gatehouse.db import write_transaction
from gatehouse.event_payloads import PAYLOADS, AttemptPayload, EventPayload, to_wire
from gatehouse.events import EventKind
from gatehouse.policy import Decision, Direction, History, Outcome, Policy
from kiosk.outbox import Outbox

migrations = Migrations("gatehouse.kiosk")


@migrations()
def m001_log(db: sqlite_utils.Database) -> None:
    db["attempts"].create({
        "id": str, "seq": int, "at": float, "clock_trusted": int, "direction": str,
        "outcome": str, "reasons": str, "who": str, "person_ref": str, "name": str,
        "household": str, "building": str, "pass_id": str, "policy_version": int, "bundle_version": int,
        "codes": str, "decided_by": str}, pk="id")
    db["attempts"].create_index(["person_ref", "at"])
    db["attempts"].create_index(["household", "at"])
    db["events"].create({"id": str, "seq": int, "at": float, "kind": str,
                         "attempt_id": str, "detail": str}, pk="id")
    # The outbox: one row per attempt or event, in gate sequence order, until the hub
    # acknowledges it end to end (docs/mqtt.md).
    db["outbox"].create({"seq": int, "id": str, "kind": str, "payload": str,
                         "created_at": float, "acked_at": float}, pk="seq")
    db["outbox"].create_index(["acked_at"])


@dataclass(frozen=True)
class LoggedAttempt:
    id: str
    seq: int


class AttemptLog:
    """The gate's log file (sqlite-utils), opened once per process; `outbox` is its outbox."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Built on one thread, used by the gate loop's thread: one user at a time.
        self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute("PRAGMA busy_timeout = 5000")
        migrations.apply(self.db)
        self.outbox = Outbox(self.db)
        # Told after each committed outbox row (the hub link sends at once, not at its
        # next poll); set by the runner.
        self.on_outbox: Callable[[], None] = lambda: None

    def close(self) -> None:
        self.db.close()

    def log_attempt(self, decision: Decision, codes: list[dict], at: float,
                    bundle_version: int, decided_by: str = "policy") -> LoggedAttempt:
        """Write the attempt and its outbox row in one transaction; returns its id."""
        attempt_id = uuid.uuid4().hex
        s = decision.subject
        row = {
            "id": attempt_id, "at": at, "clock_trusted": int(decision.clock_trusted),
            "direction": decision.direction.value, "outcome": decision.outcome.value,
            "reasons": json.dumps([f.reason.value for f in decision.findings]),
            "who": s.who.value if s.who else None, "person_ref": s.person_ref,
            "name": s.name, "household": s.household, "building": s.building,
            "pass_id": s.pass_id,
            "policy_version": decision.policy_version, "bundle_version": bundle_version,
            "codes": json.dumps(codes), "decided_by": decided_by}
        # Built from its model before anything is written: a key the hub would not
        # understand fails here, in the kiosk's own tests.
        payload = to_wire(EventKind.ATTEMPT, AttemptPayload(**{
            **row, "reasons": [f.reason.value for f in decision.findings], "codes": codes,
            "alert": decision.alert}))
        with write_transaction(self.db):
            seq = self.outbox.next_seq()
            self.db["attempts"].insert({**row, "seq": seq})
            self.outbox.append(seq, attempt_id, EventKind.ATTEMPT, payload, at)
        self.on_outbox()
        return LoggedAttempt(attempt_id, seq)

    def log_event(self, kind: EventKind, at: float,
                  payload: EventPayload | None = None) -> str:
        """A door alarm, an exit request, an override, a start or stop: row and outbox.
        `payload` is the kind's model (gatehouse/event_payloads.py); none for a kind
        that carries nothing."""
        event_id = uuid.uuid4().hex
        detail = to_wire(kind, PAYLOADS[kind]() if payload is None else payload)
        attempt_id = detail.pop("attempt_id", None)  # a column of its own, as before
        with write_transaction(self.db):
            seq = self.outbox.next_seq()
            self.db["events"].insert({"id": event_id, "seq": seq, "at": at, "kind": kind.value,
                                      "attempt_id": attempt_id,
                                      "detail": json.dumps(detail, ensure_ascii=False)})
            self.outbox.append(seq, event_id, kind, {"id": event_id, "at": at, "kind": kind.value,
                                              "attempt_id": attempt_id, **detail}, at)
        self.on_outbox()
        return event_id

    def history(self, person_ref: str | None, household: str | None, policy: Policy,
                now: float) -> History:
        """What this gate's log says about a person, for anti-passback and exit quotas."""
        if not person_ref:
            return History()
        admitted = ("select direction, at from attempts where person_ref = ? and "
                    "outcome = 'admit' order by at desc limit 1")
        last = next(self.db.query(admitted, [person_ref]), None)
        q = policy.quota   # its window and key are the hub's too (QuotaRule)
        key, value = q.counted_by(person_ref, household)
        exits = next(self.db.query(
            f"select count(*) as n from attempts where {key} = ? and outcome = 'admit' "
            "and direction = 'out' and at > ?", [value, q.window_start(now)]))["n"]
        last_dir = Direction(last["direction"]) if last else None
        out_since = last["at"] if last and last_dir is Direction.OUT else None
        return History(last_dir, exits, out_since)

    def sign_ins(self, since: float) -> list[tuple[float, str, str]]:
        """(at, volunteer, action) of the screen's sign-in events since `since`, so that
        lockouts and pauses survive a restart."""
        rows = self.db.execute(
            "select at, json_extract(detail, '$.volunteer'), json_extract(detail, '$.action') "
            "from events where kind = ? and at >= ? order by seq",
            [EventKind.VOLUNTEER.value, since]).fetchall()
        return [(r[0], r[1] or "", r[2] or "") for r in rows]

    def last_event(self, kind: EventKind) -> tuple[float, dict] | None:
        """(at, payload) of this gate's newest event of `kind`, e.g. whether its camera
        was last logged lost, across a restart."""
        row = self.db.execute("select at, detail from events where kind = ? "
                              "order by seq desc limit 1", [kind.value]).fetchone()
        return (row[0], json.loads(row[1] or "{}")) if row else None

    def pickups_taken(self) -> list[tuple[str, str]]:
        """(parcel id, waybill) of every parcel this kiosk handed out (its PICKUP events),
        so a restart before the hub's next manifest never offers one again."""
        rows = self.db.execute(
            "select json_extract(detail, '$.parcel'), json_extract(detail, '$.waybill') "
            "from events where kind = ? and json_extract(detail, '$.outcome') = 'taken' "
            "order by seq", [EventKind.PICKUP.value]).fetchall()
        return [(r[0], r[1]) for r in rows if r[0]]

    def purge(self, before: float) -> int:
        """Delete what the hub has acknowledged and is older than `before` (retention).
        Nothing the hub has not confirmed is ever deleted."""
        with write_transaction(self.db):
            done = "select id from outbox where acked_at is not null"
            n = self.db.execute(f"delete from attempts where at < ? and id in ({done})",
                                [before]).rowcount
            # The newest camera event stays: an outage still going on is `lost` there
            # (kiosk/camera_watch.py reads it at the next start).
            n += self.db.execute(f"delete from events where at < ? and id in ({done}) and "
                                 "id is not (select id from events where kind = ? "
                                 "order by seq desc limit 1)",
                                 [before, EventKind.CAMERA.value]).rowcount
            # The newest row stays: the next sequence number follows it (an outbox purged
            # empty would count from 1 again, and the hub would see an old SD image).
            self.db.execute("delete from outbox where acked_at is not null and created_at < ? "
                            "and seq < (select max(seq) from outbox)", [before])
        return n

    def counts_since(self, since: float) -> dict[str, int]:
        """Today's figures for the volunteer: entries, exits, referred, refused."""
        rows = self.db.execute(
            "select direction, outcome, count(*) from attempts where at >= ? "
            "group by direction, outcome", [since]).fetchall()
        out = {"in": 0, "out": 0, "refer": 0, "refuse": 0}
        for direction, outcome, n in rows:
            if outcome == "admit":
                out[direction] = out.get(direction, 0) + n
            else:
                out[outcome] = out.get(outcome, 0) + n
        return out

    def attempts(self, limit: int = 100) -> list[dict]:
        return list(self.db.query("select * from attempts order by seq desc limit ?", [limit]))

    def count(self, outcome: Outcome | None = None) -> int:
        if outcome is None:
            return self.db["attempts"].count
        return next(self.db.query("select count(*) as n from attempts where outcome = ?",
                                  [outcome.value]))["n"]
