"""A pickup at the parcel area: the resident's pass or pickup code opens it, the screen
names the slots, and each parcel scanned is checked before the resident walks off.

The desk keeps only state and rules: `now` is passed in, nothing here logs, beeps or
reads a file (kiosk/modes/pickup.py does that on the gate loop's thread). What it
knows comes from the hub's signed shelf manifest (gatehouse.parcels.Manifest) and
from what this kiosk has handed out itself since, so a kiosk offline for a day never
offers a parcel twice.
"""
from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from gatehouse.event_payloads import PickupPayload
from gatehouse.parcels import Manifest, ShelfParcel
from gatehouse.privacy import mask_household

IDLE_END_S = 90.0        # a pickup nobody touches ends
CODE_TRIES = 5           # wrong keyed codes …
CODE_WINDOW_S = 60.0     # … within this long …
CODE_PAUSE_S = 60.0      # … pause keyed codes this long: guessing stops paying


class Via(str, Enum):
    PASS = "pass"
    CODE = "code"


class Why(str, Enum):
    """Why a scanned parcel is the wrong one."""

    OTHER_HOUSEHOLD = "other_household"
    ON_HOLD = "on_hold"
    NOT_ON_SHELF = "not_on_shelf"
    ALREADY_TAKEN = "already_taken"


WORDS = {
    Why.OTHER_HOUSEHOLD: ("拿错了：这不是您的包裹", "Wrong parcel: not yours"),
    Why.ON_HOLD: ("此件还在静置，暂不能取", "Still standing its hold: not yet"),
    Why.NOT_ON_SHELF: ("此件不在货架清单上", "Not on the shelf list"),
    Why.ALREADY_TAKEN: ("此件已被取走", "Already picked up"),
}


@dataclass(frozen=True)
class Verdict:
    """The check of one scanned waybill: `why` is None when it is the right parcel."""

    waybill: str
    parcel: ShelfParcel | None
    why: Why | None
    again: bool = False   # taken earlier in this same pickup: shown again, not logged again

    @property
    def taken(self) -> bool:
        return self.why is None


@dataclass
class Taken:
    """What this kiosk has handed out (parcel ids and waybills), newest manifest or not."""

    ids: set[str] = field(default_factory=set)
    waybills: set[str] = field(default_factory=set)

    def add(self, parcel_id: str, waybill: str) -> None:
        self.ids.add(parcel_id)
        self.waybills.add(waybill.strip().upper())

    def has(self, p: ShelfParcel) -> bool:
        return p.id in self.ids


def hold_clock(manifest: Manifest | None, now: float, clock_trusted: bool) -> float:
    """The time holds are judged by: ours, or, while our clock is in doubt (no RTC after a
    power cut), no later than the hub's when it made the manifest: never early."""
    if clock_trusted or manifest is None:
        return now
    return min(now, manifest.at)


def judge(manifest: Manifest | None, household: str, taken: Taken, waybill: str,
          now: float) -> Verdict:
    """Is this the parcel the household may take now? `now` is the hold clock."""
    w = waybill.strip().upper()
    p = manifest.by_waybill(w) if manifest else None
    if p is None:
        return Verdict(w, None, Why.ALREADY_TAKEN if w in taken.waybills else Why.NOT_ON_SHELF)
    if taken.has(p):
        return Verdict(w, p, Why.ALREADY_TAKEN)
    if p.household != household:
        return Verdict(w, p, Why.OTHER_HOUSEHOLD)
    if not p.ready(now):
        return Verdict(w, p, Why.ON_HOLD)
    return Verdict(w, p, None)


def find_code(manifest: Manifest | None, text: str) -> ShelfParcel | None:
    """The parcel a keyed pickup code names: 'b-3-1045', 'B 3 1045', or 'B31045' when
    only one code reads like that without its dashes."""
    if manifest is None or not text.strip():
        return None
    exact = manifest.by_code(text)
    if exact is not None:
        return exact
    bare = re.sub(r"[\s\-_.]", "", text.upper())
    found = [p for p in manifest.parcels if p.code.replace("-", "") == bare]
    return found[0] if len(found) == 1 else None


def order(parcels: Iterable[ShelfParcel]) -> list[ShelfParcel]:
    """Fresh and frozen food first, then by slot (a walk along the shelves)."""
    return sorted(parcels, key=lambda p: (not (p.fresh or p.frozen), p.slot))


@dataclass
class Pickup:
    """One resident's visit: their household's parcels, what they took."""

    household: str
    via: Via
    code: str | None      # the keyed code that opened it
    started: float
    last: float
    taken: list[ShelfParcel] = field(default_factory=list)
    ended: float | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Flash:
    """A wrong parcel, on the screen in red until `until`."""

    verdict: Verdict
    right_slots: tuple[str, ...]
    at: float
    until: float


@dataclass(frozen=True)
class CodeResult:
    ok: bool
    reason: str = ""              # "", "unknown", "paused", "no_manifest"
    parcel: ShelfParcel | None = None
    tries_left: int = CODE_TRIES
    paused_until: float | None = None
    pause_began: bool = False     # this wrong code started the pause (logged once)


class PickupDesk:
    """The parcel area's counter: one pickup at a time, keyed codes rate-limited."""

    def __init__(self, taken: Iterable[tuple[str, str]] = (), result_seconds: float = 10.0):
        self.manifest: Manifest | None = None
        self.taken = Taken()
        for parcel_id, waybill in taken:
            self.taken.add(parcel_id, waybill)
        self.result_seconds = result_seconds
        self.pickup: Pickup | None = None
        self.flash: Flash | None = None
        self.notice: tuple[str, str, float] | None = None  # (zh, en, until)
        self.paused_until: float | None = None
        self._failures: list[float] = []

    # Opening and ending ----------------------------------------------------

    def open(self, household: str, via: Via, now: float, code: str | None = None) -> Pickup:
        """A pass or a code: the household's pickup (the same one, if already open)."""
        p = self.pickup
        if p is not None and p.ended is None and p.household == household:
            p.last = now
            if code and p.code is None:
                p.code = code
            return p
        self.pickup = Pickup(household, via, code, now, now)
        self.flash = self.notice = None
        return self.pickup

    def key_code(self, text: str, now: float) -> CodeResult:
        """A pickup code keyed (or shown to the camera): open its household's pickup."""
        if self.paused(now):
            return CodeResult(False, "paused", tries_left=0, paused_until=self.paused_until)
        if self.manifest is None:
            return CodeResult(False, "no_manifest")
        parcel = find_code(self.manifest, text)
        if parcel is None:
            self._failures = [t for t in self._failures if now - t < CODE_WINDOW_S] + [now]
            if len(self._failures) >= CODE_TRIES:
                self._failures = []
                self.paused_until = now + CODE_PAUSE_S
                return CodeResult(False, "paused", tries_left=0, paused_until=self.paused_until,
                                  pause_began=True)
            return CodeResult(False, "unknown", tries_left=CODE_TRIES - len(self._failures))
        self.open(parcel.household, Via.CODE, now, parcel.code)
        return CodeResult(True, parcel=parcel)

    def paused(self, now: float) -> bool:
        return self.paused_until is not None and now < self.paused_until

    def end(self, now: float) -> Pickup | None:
        """Done (or idle): the summary stays for result_seconds, then leaves the screen."""
        p = self.pickup
        if p is None or p.ended is not None:
            return None
        p.ended = now
        return p

    def expire(self, now: float) -> bool:
        """Time passes: end an idle pickup, clear what has been shown long enough.
        True when the screen changed."""
        changed = False
        p = self.pickup
        if p is not None and p.ended is None and now - p.last > IDLE_END_S:
            self.end(now)
            changed = True
        if p is not None and p.ended is not None and now - p.ended >= self.result_seconds:
            self.pickup = None
            changed = True
        if self.flash is not None and now >= self.flash.until:
            self.flash = None
            changed = True
        if self.notice is not None and now >= self.notice[2]:
            self.notice = None
            changed = True
        if self.paused_until is not None and now >= self.paused_until:
            self.paused_until = None
            changed = True
        return changed

    def say(self, zh: str, en: str, now: float) -> None:
        """A short notice on the screen (show your pass first, a pass not valid here)."""
        self.notice = (zh, en, now + min(self.result_seconds, 5.0))

    # Checking a parcel -----------------------------------------------------

    def check(self, waybill: str, now: float, clock_trusted: bool = True) -> Verdict | None:
        """Judge a parcel scanned during the open pickup (None: there is none). Changes
        nothing: the caller logs the verdict first, then `record`s it."""
        p = self.pickup
        if p is None or p.ended is not None:
            return None
        w = waybill.strip().upper()
        mine = next((x for x in p.taken if x.waybill == w), None)
        if mine is not None:  # the same label held up again: not "already taken" in red
            return Verdict(w, mine, None, again=True)
        return judge(self.manifest, p.household, self.taken, w,
                     hold_clock(self.manifest, now, clock_trusted))

    def record(self, v: Verdict, now: float, clock_trusted: bool = True) -> None:
        """A logged verdict: the parcel is handed out, or the screen flashes red."""
        p = self.pickup
        if p is None:
            return
        p.last = now
        if v.again:
            return
        if v.taken:
            self.taken.add(v.parcel.id, v.parcel.waybill)
            p.taken.append(v.parcel)
            self.flash = None
        else:
            self.flash = Flash(v, tuple(x.slot for x in self.ready(now, clock_trusted)), now,
                               now + self.result_seconds)

    def mine(self) -> list[ShelfParcel]:
        """The open pickup's household's parcels on the shelves, not yet handed out."""
        p = self.pickup
        if p is None or self.manifest is None:
            return []
        return order(x for x in self.manifest.for_household(p.household)
                     if not self.taken.has(x))

    def ready(self, now: float, clock_trusted: bool = True) -> list[ShelfParcel]:
        t = hold_clock(self.manifest, now, clock_trusted)
        return [x for x in self.mine() if x.ready(t)]

    def payload(self, v: Verdict, volunteer: str | None) -> PickupPayload:
        """The PICKUP event (docs/mqtt.md): the same keys whether taken or wrong."""
        p, parcel = self.pickup, v.parcel
        return PickupPayload(
            pickup=p.id, parcel=parcel.id if parcel else None, waybill=v.waybill,
            household=p.household, code=parcel.code if parcel else None,
            slot=parcel.slot if parcel else None, via=p.via.value,
            outcome="taken" if v.taken else "wrong", why=v.why.value if v.why else None,
            volunteer=volunteer,
            manifest_version=self.manifest.version if self.manifest else None)

    # The screen ------------------------------------------------------------

    def to_json(self, now: float, clock_trusted: bool = True) -> dict:
        """What the screen shows: the household masked, held parcels without a slot."""
        m, p, f, n = self.manifest, self.pickup, self.flash, self.notice
        doc: dict = {
            "manifest_version": m.version if m else None,
            "manifest_at": m.at if m else None,
            "shelves": sorted({x.code.split("-")[0][:1] for x in m.parcels if x.code})
            if m else [],
            "paused_s": math.ceil(self.paused_until - now) if self.paused(now) else 0,
            "notice": {"zh": n[0], "en": n[1]} if n else None,
            "pickup": None, "flash": None,
        }
        if p is not None:
            t = hold_clock(m, now, clock_trusted)
            rows = [_row(x, "taken", now) for x in p.taken[::-1]]
            if p.ended is None:
                rows = [_row(x, "ready" if x.ready(t) else "held", now)
                        for x in self.mine()] + rows
            doc["pickup"] = {
                "id": p.id, "household": mask_household(p.household), "via": p.via.value,
                "parcels": rows, "ended": p.ended is not None,
                "ready": sum(r["state"] == "ready" for r in rows),
                "held": sum(r["state"] == "held" for r in rows),
                "taken": len(p.taken),
                "seconds_left": max(0, round(p.ended + self.result_seconds - now))
                if p.ended is not None else None}
        if f is not None:
            v, zh, en = f.verdict, *WORDS[f.verdict.why]
            if v.why is Why.ON_HOLD:
                mins = _minutes_left(v.parcel, now)
                zh, en = f"{zh}（还需静置 {mins} 分钟）", f"{en} ({mins} min left)"
            doc["flash"] = {
                "why": v.why.value, "zh": zh, "en": en, "waybill": _tail(v.waybill),
                "put_back": v.parcel.slot if v.parcel and v.why is not Why.ALREADY_TAKEN
                else None,
                "right_slots": list(f.right_slots), "at": f.at,
                "seconds_left": max(0, round(f.until - now))}
        return doc


def _tail(waybill: str) -> str:
    return "…" + waybill[-4:] if len(waybill) > 4 else waybill


def _row(p: ShelfParcel, state: str, now: float) -> dict:
    """One parcel on the screen; a held one gets its time left, never its slot or code."""
    held = state == "held"
    return {"parcel": p.id, "waybill": _tail(p.waybill), "carrier": p.carrier,
            "fresh": p.fresh, "frozen": p.frozen, "state": state,
            "slot": None if held else p.slot, "code": None if held else p.code,
            "minutes_left": _minutes_left(p, now) if held else None}


def _minutes_left(p: ShelfParcel, now: float) -> int:
    """Whole minutes, at least 1: a held parcel never reads "0 minutes"."""
    return max(1, math.ceil((p.hold_until - now) / 60))
