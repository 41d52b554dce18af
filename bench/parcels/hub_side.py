"""Part 1 of bench.parcels: hub ingest of parcel events, slotting as the shelves fill,
the timer pass."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.parcels.common import (
    BATCH, BUILDINGS, GATE, SEED, Drops, Plan, messages, say, volunteer_payloads,
)
from gatehouse import days, topics
from gatehouse.db import write_transaction
from gatehouse.events import EventKind
from gatehouse.home import Home
from hub import policy_versions
from hub.compound import Compound
from hub.features import event_handlers
from hub.ingest import Incoming, ingest
from hub.parcels import intake, settings, shelving
from hub.parcels.shelving import define_shelf, Shelf
from hub.parcels.worker import tick


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
    zone = policy_versions.current_policy(db).zone
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
        db["pickup_counter"].upsert({"day": days.local_day(payloads[-1]["at"], zone),
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
    handlers = event_handlers()  # as a hub process registers them at start
    per_batch = []
    t0 = time.perf_counter()
    for m, n in zip(msgs, expected):
        b0 = time.perf_counter()
        r = ingest(db, [Incoming(topic, m, time.time())], policy_versions.current_policy(db),
                   handlers)
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
