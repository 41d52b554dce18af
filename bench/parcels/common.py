"""What a courier brings: the plan, waybills and rooms, the gates' batches of events."""
from __future__ import annotations

import random
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from gatehouse.events import dump, Event, EventBatch, EventKind, MAX_EVENTS_PER_BATCH
from gatehouse.parcels import carrier_of, valid_waybill
from kiosk.courier_session import Parcel


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
        """`parcel` payloads as kiosk/modes/courier.py (CourierMode.add_waybill) logs them; a courier's
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
