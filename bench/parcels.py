"""Parcels: the hub's parcels per second, and a drop-off scan's way to its slot.

Run: .venv/bin/python -m bench.parcels [--quick] [--out FILE] [--sizes 5000,20000]
     [--repeats N]
(the default is 3 runs each of 5,000 and 20,000 parcels, 200 scans and a burst of 500:
about 2 minutes on a 2-core x86 machine; --quick, 1 run of 5,000 and 50 scans: ~20 s)

1. Hub ingest, in this process, on a real hub database (Compound.create in a temporary
   home; one shelf per building, a cold shelf and an open overflow shelf, room for every
   parcel): the gates' `parcel` events, built as kiosk/courier_mode.add_waybill logs
   them, go through hub.ingest.ingest in batches of 500 (one message, one transaction
   each, as HubSync hands them over); every parcel gets its slot, pickup code and hold
   inside the ingest (hub/parcels/intake.py). Beside it, the same number of `volunteer`
   events (a tiny payload, nothing parcel-specific), so the cost of slotting shows.
   Whether slotting stays flat as the shelves fill: one batch of 500 into a hub
   already holding 9,500 and 19,500 live parcels (filled straight into the tables the
   way the slot rule, cold reserve included, would have placed them; the slots learn
   their occupants from the insert trigger). Then the timer pass
   (hub.parcels.worker.tick) once every hold has ended: releases, and one pickup
   message queued per household; timed as a whole and per write transaction (the
   longest is how long the gates' ingest could wait behind it).
2. Scan to slot, end to end with real processes on loopback: Mosquitto, `hub serve`,
   `kiosk run` (file camera showing a courier badge, mock pins). A signed-in volunteer
   keys waybills on the kiosk's screen API (POST /api/courier), one at a time; the
   time runs from right before the POST until the parcel's row in the hub database
   has a slot (a read-only connection polls every 2 ms). Then a burst: 500 waybills
   posted as fast as one client can, timed until all 500 are slotted.

Every process started here is stopped in a `finally`; every wait has a deadline.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import html.parser
import http.client
import json
import math
import os
import platform
import random
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.sync import LOOPBACK, MOSQUITTO, free_port, mosquitto_version, pct, port_open
from demo.scenes import phone_frame, write_frames
from gatehouse import topics
from gatehouse.db import write_transaction
from gatehouse.events import MAX_EVENTS_PER_BATCH, Event, EventBatch, EventKind, dump
from gatehouse.home import Home
from gatehouse.parcels import carrier_of, valid_waybill
from hub import store
from hub.compound import Compound
from hub.gates import add_gate, setup_broker
from hub.ingest import Incoming, ingest
from hub.parcels import intake, settings, shelving
from hub.parcels.shelving import Shelf, define_shelf
from hub.parcels.worker import tick
from kiosk.courier import Parcel

SEED = 20221107
GATE = "gate-1"
BATCH = MAX_EVENTS_PER_BATCH            # 500 events a message, as a gate sends them
BUILDINGS, UNITS, FLOORS, DOORS = 12, 3, 18, 4   # 2,592 households
PIN = "2580"
BIN = Path(sys.executable).parent        # .venv/bin: `hub`, `kiosk`
POLL_S = 0.002                           # the hub database is polled this often
SCAN_DEADLINE_S = 15.0                   # one waybill: POST to slot
# Waybill shapes of the carriers gatehouse.parcels knows, and a plausible mix.
CARRIER_MIX = (("SF", 13, 30), ("YT", 13, 20), ("JT", 13, 15), ("75", 12, 25),
               ("JDV", 12, 10))
COURIERS = (("李*", "顺丰速运"), ("王*", "中通快递"), ("张*", "圆通速递"), ("刘*", "京东物流"),
            ("陈*", "极兔速递"))


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...] = (5_000, 20_000)       # parcels ingested from an empty hub
    repeats: int = 3                               # runs per size (median reported)
    baseline: tuple[int, ...] = (5_000, 20_000)    # volunteer events, same batches
    occupancy: tuple[int, ...] = (10_000, 20_000)  # one batch of 500 ending at this many
    timer: int = 5_000                             # parcels released by one timer pass
    scans: int = 200                               # one at a time, end to end
    burst: int = 500                               # posted as fast as possible


QUICK = Plan(sizes=(5_000,), repeats=1, baseline=(5_000,), occupancy=(), scans=50)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def wait_until(condition: Callable[[], object], timeout: float, what: str,
               every: float = POLL_S):
    """Poll until truthy; returns the value; raises at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# What a courier brings ---------------------------------------------------------

class Drops:
    """Waybills (unique, mixed carriers) and rooms, deterministic in the seed."""

    def __init__(self, seed: int = SEED):
        self.rng = random.Random(seed)
        self.taken: set[str] = set()

    def waybill(self) -> str:
        prefixes, lengths, weights = zip(*CARRIER_MIX)
        while True:
            k = self.rng.choices(range(len(prefixes)), weights)[0]
            w = prefixes[k] + "".join(self.rng.choices("0123456789", k=lengths[k]))
            if w not in self.taken:
                self.taken.add(w)
                assert valid_waybill(w) and carrier_of(w), w
                return w

    def room(self) -> str:
        r = self.rng
        return (f"{r.randint(1, BUILDINGS)}-{r.randint(1, UNITS)}-"
                f"{r.randint(1, FLOORS)}{r.randint(1, DOORS):02d}")

    def flags(self) -> tuple[bool, bool]:
        """(fresh, frozen): 10% fresh, 2% frozen."""
        x = self.rng.random()
        return 0.02 <= x < 0.12, x < 0.02

    def payloads(self, n: int, at0: float) -> list[dict]:
        """`parcel` payloads as kiosk/courier_mode.add_waybill logs them; a courier's
        drop-off (session) every 40 parcels, one parcel every 50 ms."""
        out = []
        session, courier = "", COURIERS[0]
        for i in range(n):
            if i % 40 == 0:
                session, courier = uuid.uuid4().hex, self.rng.choice(COURIERS)
            w = self.waybill()
            carrier = carrier_of(w)
            fresh, frozen = self.flags()
            parcel = Parcel(uuid.uuid4().hex, w, carrier[0], carrier[1], self.room(), fresh,
                            frozen, at0 + i * 0.05)
            out.append({"session": session, "courier": courier[0], "company": courier[1],
                        **parcel.to_json()})
        return out


def messages(kind: EventKind, payloads: list[dict], first_seq: int = 1) -> list[bytes]:
    """The gate's batches as they travel: 500 events a message, JSON."""
    events = [Event(seq=first_seq + i, id=uuid.uuid4().hex, kind=kind, at=p["at"], payload=p)
              for i, p in enumerate(payloads)]
    return [dump(EventBatch(gate=GATE, sent_at=time.time(), events=events[i:i + BATCH]))
            for i in range(0, len(events), BATCH)]


def volunteer_payloads(n: int, at0: float) -> list[dict]:
    return [{"action": "sign_in", "volunteer": "v001", "at": at0 + i * 0.05} for i in range(n)]


# A hub ----------------------------------------------------------------------------

def define_shelves(db, n: int) -> int:
    """One shelf per building, a cold shelf and an open overflow shelf, sized so that n
    parcels (88% plain, spread over the buildings) all find a slot; returns capacity."""
    def shelf(sid: str, name: str, need: int, cold: bool, buildings: tuple[str, ...],
              sort: int) -> Shelf:
        slots = 200
        tiers = max(1, min(20, math.ceil(need / slots)))
        return Shelf(sid, name, tiers, slots, cold, buildings, sort)
    per_building = math.ceil(n * 0.88 / BUILDINGS * 1.3) + 20
    shelves = [shelf(f"B{b}", f"{b}栋", per_building, False, (str(b),), b)
               for b in range(1, BUILDINGS + 1)]
    shelves.append(shelf("C", "冷柜", math.ceil(n * 0.12 * 1.3) + 20, True, (), 90))
    shelves.append(shelf("O", "公共", 4000, False, (), 99))
    for s in shelves:
        define_shelf(db, s)
    capacity = sum(s.capacity for s in shelves)
    assert capacity >= n, (capacity, n)
    return capacity


def new_hub(root: Path, shelves_for: int) -> Compound:
    compound = Compound.create(Home.at(root), "bench", int(time.time()) - 3600)
    compound.db["gates"].insert({"id": GATE, "name": GATE, "added_at": int(time.time()),
                                 "online": 0})
    define_shelves(compound.db, shelves_for)
    return compound


def prefill(db, payloads: list[dict]) -> None:
    """Live parcels on the shelves without the ingest: each placed where the slot rule
    (shelving.candidates with its cold reserve, lowest tier and position first) would
    have put it, with a code from the day's counter; one transaction. The slots learn
    their parcels from the insert trigger, as after a real placement."""
    shelves = shelving.shelves(db)
    used = {s.id: 0 for s in shelves}
    cold = [s for s in shelves if s.cold]
    cold_capacity = sum(s.capacity for s in cold)
    zone = store.current_policy(db).zone
    cfg = settings.load(db)
    rows = []
    n = cfg.code_start - 1
    for p in payloads:
        building = p["room"].split("-")[0]
        cold_free = cold_capacity - sum(used[s.id] for s in cold)
        cold_room = cold_free > shelving.COLD_RESERVE * cold_capacity
        shelf = next(s for s in shelving.candidates(shelves, building, p["fresh"], p["frozen"],
                                                    cold_room)
                     if used[s.id] < s.capacity)
        tier, pos = divmod(used[shelf.id], shelf.slots)
        used[shelf.id] += 1
        n += 1
        rows.append({
            "id": p["id"], "waybill": p["waybill"], "carrier": p["carrier"],
            "carrier_name": p["carrier_name"], "room": p["room"], "household": p["room"],
            "building": building, "fresh": int(p["fresh"]), "frozen": int(p["frozen"]),
            "gate": GATE, "courier": p["courier"], "company": p["company"], "batch": None,
            "item": None, "state": "holding", "received_at": p["at"], "changed_at": p["at"],
            "slot": shelving.slot_id(shelf.id, tier + 1, pos + 1),
            "code": f"{shelf.id}-{tier + 1}-{n}",
            "hold_until": p["at"] + cfg.hold_s(p["fresh"], p["frozen"])})
    with write_transaction(db):
        db["parcels"].insert_all(rows, batch_size=1000)
        db["pickup_counter"].upsert({"day": shelving.local_day(payloads[-1]["at"], zone),
                                     "n": n}, pk="day")


# 1. Hub ingest ---------------------------------------------------------------------

@dataclass
class Run:
    kind: str
    n: int
    seconds: float
    batches: list[float]            # seconds per batch of 500
    live_before: int = 0            # parcels already on the shelves

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    def batch_rate(self, i: int) -> float:
        return BATCH / self.batches[i]


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def run_ingest(db, msgs: list[bytes], expected: list[int]) -> tuple[float, list[float]]:
    """Each message in its own ingest call (one transaction), as HubSync's writer does
    with a single gate sending; the policy read per call, as there."""
    topic = topics.gate_events(GATE)
    per_batch = []
    t0 = time.perf_counter()
    for m, n in zip(msgs, expected):
        b0 = time.perf_counter()
        r = ingest(db, [Incoming(topic, m, time.time())], store.current_policy(db))
        per_batch.append(time.perf_counter() - b0)
        if r.stored != n or r.quarantined:
            raise AssertionError(f"ingest stored {r.stored} of {n}, quarantined "
                                 f"{r.quarantined}")
    return time.perf_counter() - t0, per_batch


def slotted(db) -> int:
    """Parcels holding with a slot and a code; checked against the slots that name them
    (slots.parcel, kept by the triggers in hub/parcels/schema.py)."""
    n = db.execute("select count(*) from parcels where state = 'holding' and slot is not "
                   "null and code is not null").fetchone()[0]
    occupied = db.execute("select count(*) from slots s join parcels p on p.id = s.parcel "
                          "and p.slot = s.id").fetchone()[0]
    if occupied != n:
        raise AssertionError(f"{n} parcels slotted but {occupied} slots name theirs")
    return n


@dataclass
class Timer:
    seconds: float
    released: int
    households: int
    messages: int
    transactions: list[float]   # each write transaction of the pass (BEGIN to COMMIT), s

    @property
    def longest(self) -> float:
        return max(self.transactions, default=0.0)


@contextlib.contextmanager
def timed_transactions(into: list[float]):
    """Time every outermost write transaction hub.parcels.intake opens (release_due,
    place_waiting, flag_overdue take theirs from there): how long the write lock is
    held at a stretch, which is what an ingest waits behind."""
    real = intake.write_transaction

    @contextlib.contextmanager
    def timed(db):
        outer = not db.conn.in_transaction
        t0 = time.perf_counter()
        with real(db) as d:
            yield d
        if outer:
            into.append(time.perf_counter() - t0)
    intake.write_transaction = timed
    try:
        yield into
    finally:
        intake.write_transaction = real


def parcels_from_empty(root: Path, n: int, timer: bool) -> tuple[Run, Timer | None]:
    compound = new_hub(root, n)
    try:
        db = compound.db
        payloads = Drops(SEED + n).payloads(n, time.time())
        msgs = messages(EventKind.PARCEL, payloads)
        sizes = [min(BATCH, n - i) for i in range(0, n, BATCH)]
        seconds, batches = run_ingest(db, msgs, sizes)
        if slotted(db) != n:
            raise AssertionError(f"{slotted(db)} of {n} parcels have a slot and a code")
        run = Run("parcel", n, seconds, batches)
        if not timer:
            return run, None
        # Every hold has ended: one pass releases all and queues one message per household.
        end = db.execute("select max(hold_until) from parcels").fetchone()[0] + 1
        transactions: list[float] = []
        with timed_transactions(transactions):
            t0 = time.perf_counter()
            done = tick(db, end)
            seconds = time.perf_counter() - t0
        households = db.execute("select count(distinct household) from parcels").fetchone()[0]
        queued = db.execute("select count(*) from notifications where kind = 'pickup'"
                            ).fetchone()[0]
        if done["released"] != n or queued != households:
            raise AssertionError(f"timer pass: {done}, {queued} messages for {households} "
                                 f"households")
        return run, Timer(seconds, done["released"], households, queued, transactions)
    finally:
        compound.db.close()


def volunteers_from_empty(root: Path, n: int) -> Run:
    compound = new_hub(root, 1)
    try:
        msgs = messages(EventKind.VOLUNTEER, volunteer_payloads(n, time.time()))
        sizes = [min(BATCH, n - i) for i in range(0, n, BATCH)]
        seconds, batches = run_ingest(compound.db, msgs, sizes)
        return Run("volunteer", n, seconds, batches)
    finally:
        compound.db.close()


def parcels_at(root: Path, total: int) -> Run:
    """One batch of 500 into a hub already holding total - 500 live parcels."""
    compound = new_hub(root, total)
    try:
        db = compound.db
        drops = Drops(SEED + total)
        at0 = time.time() - 3600
        prefill(db, drops.payloads(total - BATCH, at0))
        if slotted(db) != total - BATCH:
            raise AssertionError(f"prefill: {slotted(db)} of {total - BATCH} on the shelves")
        payloads = drops.payloads(BATCH, time.time())
        seconds, batches = run_ingest(db, messages(EventKind.PARCEL, payloads), [BATCH])
        if slotted(db) != total:
            raise AssertionError(f"{slotted(db)} of {total} parcels slotted")
        return Run("parcel", BATCH, seconds, batches, live_before=total - BATCH)
    finally:
        compound.db.close()


@dataclass
class HubResults:
    parcels: dict[int, list[Run]] = field(default_factory=dict)
    volunteers: dict[int, list[Run]] = field(default_factory=dict)
    occupancy: list[Run] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)


def hub_side(root: Path, plan: Plan) -> HubResults:
    res = HubResults()
    k = 0
    for n in plan.baseline:
        for _ in range(plan.repeats):
            k += 1
            run = volunteers_from_empty(root / f"h{k}", n)
            res.volunteers.setdefault(n, []).append(run)
            say(f"  {n:,} volunteer events: {run.rate:,.0f}/s")
    for n in plan.sizes:
        for _ in range(plan.repeats):
            k += 1
            run, timer = parcels_from_empty(root / f"h{k}", n, n == plan.timer)
            res.parcels.setdefault(n, []).append(run)
            if timer:
                res.timers.append(timer)
            say(f"  {n:,} parcels: {run.rate:,.0f}/s ({run.seconds:.1f} s; first 500 "
                f"{run.batch_rate(0):,.0f}/s, last 500 {run.batch_rate(-1):,.0f}/s)"
                + (f"; timer pass {timer.seconds:.2f} s in {len(timer.transactions)} "
                   f"transactions, longest {timer.longest * 1000:.0f} ms" if timer else ""))
    for total in plan.occupancy:
        k += 1
        run = parcels_at(root / f"h{k}", total)
        res.occupancy.append(run)
        say(f"  500 parcels onto {run.live_before:,}: {run.rate:,.0f}/s ({run.seconds:.1f} s)")
    return res


# 2. End to end --------------------------------------------------------------------

class Proc:
    """A child process with its output in a log file; stopped with SIGTERM, then killed."""

    def __init__(self, name: str, args: list, log: Path, env: dict | None = None):
        self.name, self.log_path = name, log
        self._log = open(log, "ab")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen([str(a) for a in args], stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})

    def running(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 15) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        finally:
            self._log.close()


class _Meta(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.csrf: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and a.get("name") == "csrf-token":
            self.csrf = a.get("content")


class Screen:
    """The volunteer's screen API over one keep-alive HTTP connection, as a browser."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
        self.token = ""

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body, headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()   # the server closed the kept-alive connection: once more
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def open(self) -> None:
        status, page = self._request("GET", "/")
        parser = _Meta()
        parser.feed(page.decode())
        if status != 200 or not parser.csrf:
            raise RuntimeError(f"GET / gave {status} without a csrf-token meta tag")
        self.token = parser.csrf

    def state(self) -> dict:
        status, body = self._request("GET", "/api/state")
        return json.loads(body) if status == 200 else {}

    def post(self, path: str, doc: dict) -> tuple[int, dict]:
        status, body = self._request("POST", path, json.dumps(doc).encode(),
                                     {"Content-Type": "application/json",
                                      "X-CSRF-Token": self.token})
        return status, json.loads(body or b"{}")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Scan:
    waybill: str
    t0: float          # right before the POST (time.time(): compared across processes)
    posted: float      # the POST's response read
    slotted: float     # the hub database first showed a slot
    logged: float = 0.0    # the gate's thread recorded the parcel (its `at`)
    at_hub: float = 0.0    # the hub's MQTT thread received the message


@dataclass
class Burst:
    n: int
    posted_s: float        # first POST to the last response
    slotted_s: float       # first POST to all n slotted
    messages: int          # MQTT messages the n parcels reached the hub in
    posts: list[float]     # each POST's round trip


@dataclass
class EndToEnd:
    scans: list[Scan]
    burst: Burst
    warmup: int


class World:
    """Mosquitto, `hub serve` and `kiosk run` around one compound, in `root`."""

    def __init__(self, root: Path, parcels: int):
        self.root = root
        self.procs: list[Proc] = []
        now = int(time.time())
        home = Home.at(root / "hub")
        compound = Compound.create(home, "bench", now - 3600)
        try:
            self.port = free_port()
            self.broker_files = setup_broker(home, self.port, bind=LOOPBACK, host=LOOPBACK)
            define_shelves(compound.db, parcels)
            # Before the kiosk starts, so the bundle it receives first carries them.
            self.volunteer = compound.add_volunteer("王阿姨", PIN, now - 3600)
            self.gate_home = Home.at(root / "gate")
            add_gate(compound, GATE, kiosk_home=self.gate_home)
            badge = compound.issue_courier("李师傅", "顺丰速运", now - 3600)
        finally:
            compound.db.close()
        self.hub_home = home
        blank = phone_frame(None)
        # 1 s of nothing, the badge held up for 3 s, nothing again; played in a loop, so
        # that frames keep coming as from a live camera (the same badge seen again does
        # not open a new drop-off). Gate.call now wakes the loop (Gate._wake) when there
        # are no frames, so an ended file would no longer slow screen actions (by the
        # code; not timed here); looping keeps the loop as busy as with a live camera.
        self.frames = write_frames(root / "frames",
                                   [blank] * 15 + [phone_frame(badge)] * 45 + [blank] * 4)
        self.web_port = free_port()

    def start(self) -> None:
        self.procs.append(Proc("mosquitto", [MOSQUITTO, "-c", self.broker_files.conf],
                               self.root / "mosquitto.log"))
        self.expect(lambda: port_open(self.port), 10, "mosquitto to listen")
        self.procs.append(Proc("hub", [BIN / "hub", "serve", "--home", self.hub_home.root],
                               self.root / "hub.log"))
        self.procs.append(Proc(
            "kiosk", [BIN / "kiosk", "run", "--home", self.gate_home.root, "--camera",
                      f"file:{self.frames}?fps=15&loop=1", "--pin-factory", "mock", "--clock",
                      "trusted"], self.root / "kiosk.log",
            {"GATEHOUSE_KIOSK_WEB_PORT": str(self.web_port), "GATEHOUSE_KIOSK_GATE_ID": GATE}))
        self.expect(lambda: port_open(self.web_port), 60, "the kiosk's screen to listen",
                    every=0.1)

    def expect(self, condition, timeout: float, what: str, every: float = 0.05):
        """wait_until, failing at once (with the logs) if one of our processes died."""
        def check():
            for p in self.procs:
                if not p.running():
                    raise RuntimeError(f"{p.name} exited while waiting for {what}:\n"
                                       f"{p.tail()}")
            return condition()
        try:
            return wait_until(check, timeout, what, every)
        except TimeoutError:
            for p in self.procs:
                say(f"--- {p.name} log ---\n{p.tail(1500)}")
            raise

    def stop(self) -> None:
        """The kiosk first (its link says goodbye), then the hub, then the broker."""
        errors = []
        for p in reversed(self.procs):
            try:
                p.stop()
            except (OSError, subprocess.SubprocessError) as exc:  # stop the others
                errors.append(exc)
        self.procs.clear()
        if errors:
            raise errors[0]


def hub_reader(path: Path) -> sqlite3.Connection:
    """Read-only, autocommit: every query sees the hub's last commit (WAL)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5,
                           isolation_level=None, check_same_thread=False)


def end_to_end(root: Path, scans: int, burst: int, warmup: int = 5) -> EndToEnd:
    drops = Drops(SEED)
    items = [(drops.waybill(), drops.room()) for _ in range(warmup + scans + burst)]
    world = World(root, len(items) + 50)
    screen = None
    db = None
    try:
        world.start()
        db = hub_reader(world.hub_home.hub_db)
        world.expect(lambda: db.execute("select online from gates where id = ?",
                                        [GATE]).fetchone()[0] == 1, 30,
                     "the hub to see the gate online")
        screen = Screen(world.web_port)
        screen.open()
        world.expect(lambda: (screen.state().get("courier") or {}).get("id"), 30,
                     "the courier badge to open a drop-off", every=0.1)
        status, doc = screen.post("/api/signin", {"volunteer": world.volunteer, "pin": PIN})
        if status != 200 or not doc.get("ok"):
            raise RuntimeError(f"sign-in failed: {status} {doc}")

        def slot_of(waybill: str):
            row = db.execute("select slot from parcels where waybill = ?",
                             [waybill]).fetchone()
            return row and row[0]

        rng = random.Random(SEED)
        out: list[Scan] = []
        for i, (waybill, room) in enumerate(items[:warmup + scans]):
            time.sleep(rng.uniform(0.0, 0.1))   # no lock-step with anyone's poll interval
            t0 = time.time()
            status, doc = screen.post("/api/courier", {"waybill": waybill, "room": room})
            posted = time.time()
            if status != 200 or not doc.get("ok"):
                raise RuntimeError(f"POST /api/courier {waybill}: {status} {doc}")
            world.expect(lambda w=waybill: slot_of(w), SCAN_DEADLINE_S,
                         f"{waybill} to have a slot at the hub", every=POLL_S)
            if i >= warmup:
                out.append(Scan(waybill, t0, posted, time.time()))
        # Where the time went: the gate's own timestamp, and when the hub received it.
        for s in out:
            s.logged, s.at_hub = db.execute(
                "select p.received_at, e.received_at from parcels p join gate_events e on "
                "e.kind = 'parcel' and json_extract(e.payload, '$.id') = p.id "
                "where p.waybill = ?", [s.waybill]).fetchone()

        # The burst: as fast as one client posts.
        rest = items[warmup + scans:]
        before = db.execute("select count(*) from parcels where slot is not null").fetchone()[0]
        t0 = time.time()
        posts = []
        for waybill, room in rest:
            p0 = time.perf_counter()
            status, doc = screen.post("/api/courier", {"waybill": waybill, "room": room})
            posts.append(time.perf_counter() - p0)
            if status != 200 or not doc.get("ok"):
                raise RuntimeError(f"POST /api/courier {waybill}: {status} {doc}")
        posted = time.time()
        world.expect(lambda: db.execute("select count(*) from parcels where slot is not null"
                                        ).fetchone()[0] >= before + len(rest), 120,
                     f"all {len(rest)} burst parcels to have a slot", every=POLL_S)
        done = time.time()
        msgs = db.execute("select count(distinct received_at) from gate_events where "
                          "kind = 'parcel' and at >= ?", [t0]).fetchone()[0]
        bad = db.execute("select count(*) from quarantine").fetchone()[0]
        if bad:
            raise AssertionError(f"the hub quarantined {bad} messages")
        return EndToEnd(out, Burst(len(rest), posted - t0, done - t0, msgs, posts), warmup)
    finally:
        try:
            if screen is not None:
                screen.close()
            if db is not None:
                db.close()
        finally:
            world.stop()


# Report -----------------------------------------------------------------------------

def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def hub_table(res: HubResults) -> str:
    out = [("| Hub ingest, batches of 500 | Events | Time (s) | Events/s | First 500 /s | "
            "Last 500 /s |"), "|---|---:|---:|---:|---:|---:|"]
    for n, runs in sorted(res.volunteers.items()):
        r = median_run(runs)
        out.append(f"| `volunteer` events (nothing parcel-specific) | {n:,} | {r.seconds:.2f} "
                   f"| {r.rate:,.0f} | {r.batch_rate(0):,.0f} | {r.batch_rate(-1):,.0f} |")
    for n, runs in sorted(res.parcels.items()):
        r = median_run(runs)
        out.append(f"| **`parcel` events: slot, code, hold** (from an empty hub) | {n:,} | "
                   f"{r.seconds:.2f} | **{r.rate:,.0f}** | {r.batch_rate(0):,.0f} | "
                   f"{r.batch_rate(-1):,.0f} |")
    for r in res.occupancy:
        out.append(f"| **`parcel` events, 500 more onto {r.live_before:,} live parcels** "
                   f"(up to {r.live_before + r.n:,}) | {r.n:,} | {r.seconds:.2f} | "
                   f"**{r.rate:,.0f}** | | |")
    if res.timers:
        t = sorted(res.timers, key=lambda t: t.seconds)[len(res.timers) // 2]
        out.append(f"| Timer pass after every hold ended (`worker.tick`): {t.released:,} "
                   f"released, {t.messages:,} household messages queued; "
                   f"{len(t.transactions)} write transactions, **longest "
                   f"{t.longest * 1000:.0f} ms** | {t.released:,} | {t.seconds:.2f} | "
                   f"{t.released / t.seconds:,.0f} | | |")
    return "\n".join(out)


def e2e_table(e: EndToEnd) -> str:
    def row(name: str, xs: list[float], bold: bool = False) -> str:
        cells = [ms(pct(xs, p)) for p in (50, 95, 99)] + [ms(max(xs))]
        if bold:
            name, cells = f"**{name}**", [f"**{c}**" for c in cells]
        return f"| {name} | " + " | ".join(cells) + " |"
    s = e.scans
    out = [f"| Scan to slot, {len(s)} waybills one at a time (ms) | p50 | p95 | p99 | max |",
           "|---|---:|---:|---:|---:|",
           row("POST /api/courier -> slot in the hub database", [x.slotted - x.t0 for x in s],
               True),
           row("the kiosk's part: POST round trip (the screen's answer)",
               [x.posted - x.t0 for x in s]),
           row("of the whole: POST -> recorded on the gate's thread",
               [x.logged - x.t0 for x in s]),
           row("of the whole: recorded -> received by the hub (kiosk commit, link, Mosquitto)",
               [x.at_hub - x.logged for x in s]),
           row("of the whole: received by the hub -> slotted and committed (+ <= 2 ms poll)",
               [x.slotted - x.at_hub for x in s])]
    b = e.burst
    out += ["", ("| Burst, one client posting back to back | Parcels | Posted in (s) | "
                 "POST p50 / max (ms) | Kiosk parcels/s | All slotted after (s) | "
                 "End to end parcels/s | MQTT messages |"),
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            (f"| {b.n} waybills | {b.n} | {b.posted_s:.2f} | {ms(pct(b.posts, 50))} / "
             f"{ms(max(b.posts))} | {b.n / b.posted_s:,.0f} | {b.slotted_s:.2f} | "
             f"**{b.n / b.slotted_s:,.0f}** | {b.messages} |")]
    return "\n".join(out)


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
            f"Linux {platform.release()}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {mosquitto_version()}; loopback only; "
            f"load average at the start {load}")


DOC = """\
# Parcels: hub parcels per second, scan to slot

Command: `{command}` ({elapsed:.0f} s)

Machine: {machine}. The hub, the kiosk and Mosquitto all ran on this one machine.

## Hub ingest

{hub}

Events/s of the from-empty rows: the median of {repeats} run(s), each into a new hub
database. "First 500" and "last 500" are the first and the last batch of that run;
the "onto N live parcels" rows are one batch into a hub already holding N parcels on
its shelves (filled straight into the tables, as the slot rule would have placed them).
The timer pass: the run of median time after the {timer:,}-parcel runs; its longest write
transaction is the longest stretch the gates' ingest could wait behind it.

## Scan to slot, end to end

{e2e}

{warmup} waybills were keyed first and not counted (warm-up). Between two waybills a
random pause of 0-100 ms, so that nothing runs in lock-step with a poll interval.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 run of 5,000 parcels, 50 scans (about 20 s)")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "out" / "parcels.md",
                    help="write the report here (default: bench/out/parcels.md)")
    ap.add_argument("--sizes", default=None,
                    help="parcels ingested from an empty hub, comma-separated "
                         "(default 5000,20000)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per size")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if args.sizes:
        plan = dataclasses.replace(plan, sizes=tuple(int(x) for x in args.sizes.split(",")))
    if args.repeats:
        plan = dataclasses.replace(plan, repeats=args.repeats)
    started = time.monotonic()
    described = machine()   # the load average before this bench adds to it
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-parcels-") as tmp:
        root = Path(tmp)
        say("hub ingest")
        hub = hub_side(root / "hub", plan)
        say(f"end to end: {plan.scans} scans one at a time, then a burst of {plan.burst}")
        e2e = end_to_end(root / "e2e", plan.scans, plan.burst)
    elapsed = time.monotonic() - started
    ht, et = hub_table(hub), e2e_table(e2e)
    print(ht)
    print()
    print(et)
    say(f"total {elapsed:.0f} s")
    command = ".venv/bin/python -m bench.parcels" + (" --quick" if args.quick else "")
    if args.sizes:
        command += f" --sizes {args.sizes}"
    if args.repeats:
        command += f" --repeats {args.repeats}"
    if args.out != ap.get_default("out"):
        command += f" --out {shlex.quote(str(args.out))}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(DOC.format(command=command, elapsed=elapsed, machine=described,
                                   hub=ht, repeats=plan.repeats, timer=plan.timer, e2e=et,
                                   warmup=e2e.warmup))
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
