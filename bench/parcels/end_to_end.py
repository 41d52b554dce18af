"""Part 2 of bench.parcels: scan to slot with real processes (Mosquitto, `hub serve`,
`kiosk run`)."""
from __future__ import annotations

import random
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.parcels.common import (
    BIN, Drops, GATE, PIN, POLL_S, SCAN_DEADLINE_S, SEED, say,
)
from bench.parcels.hub_side import define_shelves
from bench.sync.common import LOOPBACK, MOSQUITTO
from demo.scenes import phone_frame, write_frames
from demo.screen_client import Screen
from gatehouse.home import Home
from gatehouse.processes import Process, free_port, port_open, wait_until
from hub.compound import Compound
from hub.gates import add_gate, setup_broker


# 2. End to end --------------------------------------------------------------------

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
        self.procs: list[Process] = []
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
        self.procs.append(Process([MOSQUITTO, "-c", self.broker_files.conf],
                                  self.root / "mosquitto.log", name="mosquitto").start())
        self.expect(lambda: port_open(self.port), 10, "mosquitto to listen")
        self.procs.append(Process([BIN / "hub", "serve", "--home", self.hub_home.root],
                                  self.root / "hub.log", name="hub").start())
        self.procs.append(Process(
            [BIN / "kiosk", "run", "--home", self.gate_home.root, "--camera",
             f"file:{self.frames}?fps=15&loop=1", "--pin-factory", "mock", "--clock",
             "trusted"], self.root / "kiosk.log",
            {"GATEHOUSE_KIOSK_WEB_PORT": str(self.web_port), "GATEHOUSE_KIOSK_GATE_ID": GATE},
            name="kiosk").start())
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
            return wait_until(check, timeout, every, what)
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
