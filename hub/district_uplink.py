"""The compound's link to its district, run inside `hub serve` (hub/app_serve.py).

One worker thread (hub.periodic.Periodic: a pass as soon as a message of the district
arrives, else every 0.2 s) on its own database connection. While the bridge to the
district is up (Mosquitto's notification, retained on
`$SYS/broker/connection/district-<compound>/state`: 1 up, 0 down) it
- publishes the unacknowledged feed (hub/district_feed.py) as FeedBatches of at most
  500 events, at most `window` events in flight; when the oldest batch in flight is
  still unacknowledged after `resend_s`, it goes back to the first unacknowledged event
  and sends from there again (the district keeps each event once);
- applies the district's FeedAcks for this compound (another compound's are ignored);
- publishes CompoundStatus every 30 s and when it changes (hub/district_status.py);
- takes the district's OrderLists (hub/district_orders.py) and publishes a report for
  every order;
- raises an alert when the link is up but silent: feed pending and no FeedAck for
  `silent_s` (hub/district_silence.py), cleared by the next ack.
A message that does not parse is kept in the hub's quarantine with its reason and
acknowledged; nothing a district sends stops the thread. Everything it must not lose is
in SQLite (the feed, the orders' outcomes): a hub killed at any point resumes from there.

The link shares the hub's one MQTT client (hub/sync.py): `attach` routes the district's
topics to it and subscribes them on every connect.
"""
from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from gatehouse import topics
from gatehouse.db import write_transaction
from gatehouse.district_wire import (
    MAX_FEED_EVENTS,
    CompoundStatus,
    FeedAck,
    FeedBatch,
    OrderList,
    OrderReport,
    ReportStatus,
)
from gatehouse.envconfig import read_env
from gatehouse.events import WireError, dump, parse
from hub import district_config, district_feed, district_silence, meta, schema
from hub.broker import bridge_state_topic
from hub.district_orders import OrderDesk
from hub.district_status import compound_status
from hub.periodic import Periodic
from hub.sync import HubSync

log = logging.getLogger(__name__)
STATE_TOPICS = "$SYS/broker/connection/+/state"
LINK_META = "district.link"          # "up <time>" / "down <time>", for `hub district status`


state_topic = bridge_state_topic   # where the bridge says whether it is connected


@dataclass(frozen=True)
class UplinkConfig:
    window: int = 2000          # feed events published and not yet acknowledged
    resend_s: float = 30.0      # then send again from the first unacknowledged
    status_s: float = 30.0
    tick_s: float = 0.2
    forget_acked_days: float = 30.0
    # Up, feed pending and no ack for this long: the `district_silent` alert. Resends
    # come every resend_s; ten minutes is twenty of them unanswered.
    silent_s: float = 600.0

    @classmethod
    def from_env(cls, env=None) -> UplinkConfig:
        """GATEHOUSE_DISTRICT_WINDOW, _RESEND_S, _STATUS_S, _TICK_S, _FORGET_ACKED_DAYS,
        _SILENT_S."""
        return cls(**read_env(cls, "GATEHOUSE_DISTRICT_", env))


@dataclass
class _Flight:
    first: int
    last: int
    count: int
    sent_at: float


@dataclass
class _Incoming:
    topic: str
    payload: bytes
    ack: Callable[[], Any] | None


@dataclass
class UplinkState:
    """What the link knows in memory (the rest is in the database)."""
    up: bool = False
    cursor: int | None = None        # the last cseq sent in this run of the link
    flights: list[_Flight] = field(default_factory=list)
    published: int = 0               # feed events published (resends included)
    resends: int = 0
    status_key: Any = None
    status_at: float = 0.0
    checked_at: float = 0.0
    started: bool = False
    waiting_since: float | None = None   # feed sent and not all acked since then (wall)
    waiting_for: float = 0.0             # the same moment on the elapsed clock


class DistrictUplink:
    """`publish(topic, payload) -> bool` (QoS 1, True once taken); `connected()`: the
    hub's own broker link; `publish_bundle(db, at) -> version` signs the next bundle
    with the compound's key on that connection."""

    def __init__(self, db_path: Path, publish: Callable[[str, bytes], bool],
                 connected: Callable[[], bool],
                 publish_bundle: Callable[[sqlite_utils.Database, int], int],
                 config: UplinkConfig = UplinkConfig(), clock: Callable[[], float] = time.time,
                 elapsed: Callable[[], float] = time.monotonic):
        self.db_path, self.publish, self.connected = db_path, publish, connected
        self.publish_bundle, self.config, self.clock = publish_bundle, config, clock
        # Silence is timed on this clock: a hub without a battery clock whose time steps
        # on its first NTP sync raised a false alert on the wall clock (review R6).
        self.elapsed = elapsed
        self.inbox: queue.SimpleQueue[_Incoming] = queue.SimpleQueue()
        self.state = UplinkState()

    # The MQTT side (called on paho's thread: it only queues) -----------------------

    @staticmethod
    def subscriptions() -> list[tuple[str, int]]:
        return [(topics.DISTRICT_ACK, 1), (topics.DISTRICT_ORDERS, 1), (STATE_TOPICS, 1)]

    def receive(self, topic: str, payload: bytes, ack: Callable[[], Any] | None) -> None:
        self.inbox.put(_Incoming(topic, payload, ack))

    def worker(self) -> Periodic:
        # The pass itself waits for the district's messages (up to tick_s): an order is
        # taken the moment it arrives, not at the next tick.
        return Periodic("district-uplink", self.tick, 0.001, clock=self.clock,
                        db_path=self.db_path, wait_first=False)

    def stopped(self) -> None:
        """`hub serve` is stopping: `hub district status` must not say up."""
        db = schema.open_db(self.db_path)
        try:
            if self.state.up:
                meta.set_meta(db, LINK_META, f"down {self.clock():.3f}")
        finally:
            db.close()

    # One pass ------------------------------------------------------------------

    def tick(self, db: sqlite_utils.Database, now: float) -> None:
        cfg = district_config.load(db)
        desk = OrderDesk(db, cfg, lambda at: self.publish_bundle(db, at))
        if not self.state.started:
            self.state.started = True
            desk.finish_bundle(now)   # an order applied just before a kill
        wait = self.config.tick_s    # a pass begins when a message comes, or after tick_s
        while True:
            try:
                m = self.inbox.get(timeout=wait) if wait else self.inbox.get_nowait()
            except queue.Empty:
                break
            if wait:
                wait, now = 0.0, self.clock()   # it came while this pass waited
            try:
                self._handle(db, cfg, desk, m, now)
            except Exception as exc:  # a bug or a broken message: kept, never the end
                log.exception("district message on %s not handled", m.topic[:100])
                _quarantine(db, m, f"not handled: {type(exc).__name__}: {exc}", now)
            if m.ack is not None:
                m.ack()
        now = self.clock()
        if now - self.state.checked_at > 3600:
            self.state.checked_at = now
            district_feed.forget(db, now - self.config.forget_acked_days * 86400)
        if not (cfg.linked and self.state.up and self.connected()):
            return
        self._feed(db, cfg.compound, now)
        self._watch_acks(db, now)
        self._status(db, cfg.compound, now)

    def _handle(self, db, cfg, desk: OrderDesk, m: _Incoming, now: float) -> None:
        if m.topic.startswith("$SYS/"):
            if cfg.linked and m.topic == state_topic(cfg.compound):
                self._link(db, m.payload.strip() == b"1", now)
            return
        if not cfg.linked:
            _quarantine(db, m, "this compound is not linked to a district "
                        "(hub district link)", now)
            return
        try:
            if m.topic == topics.DISTRICT_ACK:
                ack = parse(FeedAck, m.payload)
                if ack.compound != cfg.compound:
                    log.warning("an ack for compound %s ignored (this is %s)", ack.compound,
                                cfg.compound)
                    return
                district_feed.apply_ack(db, ack.ranges, now)
                self._acked(db, now)
            elif m.topic == topics.DISTRICT_ORDERS:
                orders = parse(OrderList, m.payload)
                for report in desk.take(orders, now):
                    self._report(db, report)
            else:
                raise WireError(f"unexpected topic {m.topic[:100]}")
        except WireError as exc:
            _quarantine(db, m, str(exc), now)

    def _link(self, db, up: bool, now: float) -> None:
        if up != self.state.up:
            log.info("district link %s", "up" if up else "down")
            meta.set_meta(db, LINK_META, f"{'up' if up else 'down'} {now:.3f}")
        self.state.up = up
        # Up again: everything unacknowledged goes again, the status and lost reports too.
        self.state.flights, self.state.cursor, self.state.status_key = [], None, None
        self.state.waiting_since = None      # down is not silent; up counts afresh
        if up:
            compound = district_config.load(db).compound
            for row in list(db.query("select * from district_orders where reported_at is "
                                     "null and seq > 0 order by seq")):
                self._report(db, OrderReport(
                    compound=compound, seq=row["seq"], status=ReportStatus(row["status"]),
                    reason=row["reason"] or "", at=row["at"],
                    bundle_version=row["bundle_version"] or 0,
                    policy_version=row["policy_version"] or 0))

    def _report(self, db, report: OrderReport) -> None:
        if self.publish(topics.HUB_DISTRICT_REPORTS, dump(report)) and report.seq:
            db.execute("update district_orders set reported_at = ? where seq = ? and "
                       "reported_at is null", [self.clock(), report.seq])

    # The feed -------------------------------------------------------------------

    def _feed(self, db, compound: str, now: float) -> None:
        s, cfg = self.state, self.config
        if s.cursor is None:
            first = district_feed.first_unacked(db)
            s.cursor = (first if first is not None else district_feed.last_cseq(db) + 1) - 1
        s.flights = [f for f in s.flights if district_feed.unacked_between(db, f.first, f.last)]
        if s.flights and now - s.flights[0].sent_at > cfg.resend_s:
            first = district_feed.first_unacked(db)
            log.info("district: no ack for cseq %d-%d after %.0f s; sending again from %s",
                     s.flights[0].first, s.flights[0].last, cfg.resend_s, first)
            s.resends += 1
            s.flights = []
            s.cursor = (first if first is not None else s.cursor + 1) - 1
        while True:
            room = cfg.window - sum(f.count for f in s.flights)
            if room <= 0:
                return
            events = district_feed.next_events(db, s.cursor, now, min(MAX_FEED_EVENTS, room))
            if not events:
                return
            batch = FeedBatch(compound=compound, sent_at=now, events=events)
            if not self.publish(topics.HUB_DISTRICT_FEED, dump(batch)):
                return
            s.flights.append(_Flight(events[0].cseq, events[-1].cseq, len(events), now))
            if s.waiting_since is None:
                s.waiting_since, s.waiting_for = now, self.elapsed()
            s.cursor = events[-1].cseq
            s.published += len(events)

    # Silence ---------------------------------------------------------------------

    def _acked(self, db, now: float) -> None:
        """A FeedAck of this compound: the district hears and answers."""
        pending = district_feed.first_unacked(db) is not None
        self.state.waiting_since = now if pending else None
        self.state.waiting_for = self.elapsed()
        if district_silence.clear(db, now):
            log.info("district link: acks again")

    def _watch_acks(self, db, now: float) -> None:
        s = self.state
        if s.waiting_since is None:
            return
        if district_feed.first_unacked(db) is None:
            s.waiting_since = None      # acked (or gone) meanwhile
        elif self.elapsed() - s.waiting_for >= self.config.silent_s and \
                district_silence.silent_since(db) is None:
            log.warning("district link up but silent: no ack for %.0f s, %d feed "
                        "events waiting", self.elapsed() - s.waiting_for,
                        district_feed.backlog(db))
            district_silence.declare(db, s.waiting_since, now)

    # The status -----------------------------------------------------------------

    def _status(self, db, compound: str, now: float) -> None:
        s = self.state
        if s.status_key is not None and now - s.status_at < 1.0:
            return   # at most a look a second
        status = compound_status(db, compound, now)
        key = _changes(status)
        if key != s.status_key or now - s.status_at >= self.config.status_s:
            if self.publish(topics.HUB_DISTRICT_STATUS, dump(status)):
                s.status_key, s.status_at = key, now


def _changes(status: CompoundStatus) -> tuple:
    """What makes a status worth sending at once (counts that move with every event,
    backlog and today's decisions, wait for the 30 s one)."""
    return (status.bundle_version, status.policy_version, status.order_seq,
            status.gates_online, status.gates_total, tuple(sorted(status.buildings.items())),
            status.alerts_open, status.no_ack_since)


def _quarantine(db, m: _Incoming, reason: str, now: float) -> None:
    log.warning("district message on %s set aside: %s", m.topic[:100], reason)
    with write_transaction(db):
        db["quarantine"].insert({"at": now, "topic": m.topic[:200], "gate": None,
                                 "reason": ("district: " + reason)[:500],
                                 "payload": bytes(m.payload[:64 * 1024])})


def attach(sync: HubSync, uplink: DistrictUplink) -> None:
    """Route the district's topics of the hub's MQTT client to `uplink` (acknowledged to
    the broker once handled); HubSync subscribes them on every connect. Call before
    connecting."""
    for topic_filter, qos in uplink.subscriptions():
        sync.route(topic_filter, qos, uplink.receive)
