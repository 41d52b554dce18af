"""The gate loop: camera frame -> codes -> attempt -> decision -> log -> door and buzzer.

A Gate is built from its parts (store, hardware, decoder, bundle loader, clocks) and
owns no global state. Everything runs on one thread: button and door callbacks from
gpiozero's threads are queued and handled in the loop, so SQLite and the door are
only touched from here. The log row is committed before the door opens.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

from gatehouse import codes
from gatehouse import event_payloads as payloads
from gatehouse.bundle import Bundle
from gatehouse.codes.format import CodeError
from gatehouse.events import EventKind
from gatehouse.parcels import Manifest
from gatehouse.policy import Decision, Direction, Outcome, decide, subject_of
from gatehouse.privacy import mask_name, mask_phone
from kiosk import courier_mode, manual, pickup_mode
from kiosk.attempt import AttemptTracker, Closed, Code
from kiosk.attempt_log import AttemptLog
from kiosk.config import KioskConfig
from kiosk.courier import CourierSession
from kiosk.gpio import DoorAlarm, GateHardware, Pattern
from kiosk.scanner import Decoder, LatestFrame, SeenFilter, Symbol
from kiosk.volunteers import LOCK_SECONDS, Desk

log = logging.getLogger(__name__)
FAULT_SHOWN_S = 30.0  # a failure stays on the screen this long after the last one
PURGE_EVERY_S = 3600.0  # personal data past retention leaves the gate's SD card
BUNDLE_CHECK_S = 0.2  # a stat() per check; a new bundle applies within a second
SOUND = {Outcome.ADMIT: Pattern.ADMIT, Outcome.REFER: Pattern.REFER,
         Outcome.REFUSE: Pattern.REFUSE}
ALARM_EVENT = {DoorAlarm.FORCED_OPEN: EventKind.DOOR_FORCED,
               DoorAlarm.HELD_OPEN: EventKind.DOOR_HELD}


@dataclass(frozen=True)
class Shown:
    """A decision on the screen, until `until`; a referral shows how it was settled."""

    decision: Decision
    attempt_id: str
    at: float
    until: float
    decided: Outcome | None = None
    decided_by: str | None = None


@dataclass
class Referral:
    """A referred attempt waiting for a volunteer (override button or screen)."""

    attempt_id: str
    decision: Decision
    since: float


def code_summary(code: Code) -> dict:
    """What the log keeps of a code: kind, id and issuer, or the problem; never its text."""
    if isinstance(code, CodeError):
        out = {"problem": code.problem.value, "fingerprint": code.fingerprint}
        if code.kind is not None:
            out["kind"] = code.kind.name.lower()
        if code.code is not None:
            out["id"] = code.code.id
        return out
    return {"kind": code.kind.name.lower(), "id": code.id, "issuer": code.issuer}


class Gate:
    SOUND_PARCEL = Pattern.ADMIT  # one short beep per parcel recorded

    def __init__(self, *, config: KioskConfig, store: AttemptLog, hardware: GateHardware,
                 decoder: Decoder, load_bundle: Callable[[], Bundle],
                 clock_trusted: Callable[[], bool], now: Callable[[], float] = time.time,
                 on_decision: Callable[[Decision], None] | None = None,
                 confirmed_at: Callable[[], float | None] = lambda: None,
                 load_manifest: Callable[[], Manifest | None] = lambda: None):
        self.config = config
        self.store = store
        self.hardware = hardware
        self.decoder = decoder
        self._load_bundle = load_bundle
        self.bundle = load_bundle()
        self._bundle_checked = 0.0
        self._purged = 0.0
        self.clock_trusted = clock_trusted
        self.confirmed_at = confirmed_at  # when the hub last said our bundle is current
        self.now = now
        self.direction = Direction(config.direction)
        self.on_decision = on_decision
        self.seen = SeenFilter(config.cooldown_s)
        # A gun's trigger pulled twice on one code is one scan; counted from the scan, so
        # a code shown again after the cooldown is a new attempt however often it was pulled.
        self.gun_seen = SeenFilter(config.gun_cooldown_s, extend_while_seen=False)
        self.tracker = AttemptTracker(self._judge, config.attempt_window_s)
        self.referral: Referral | None = None
        self.result: Shown | None = None          # what the screen shows, until it expires
        self.prompt: Decision | None = None       # the open attempt so far: what to ask next
        self.courier: CourierSession | None = None
        self.desk = Desk()
        self.desk.update(self.bundle.volunteers)
        started = self.now()
        self.desk.replay(store.sign_ins(started - LOCK_SECONDS), started)
        self.last_frame = None                    # for the screen's camera preview
        self.last_frame_at: float | None = None   # wall time of it: is the camera alive?
        self.last_symbols: list = []              # and the outline of what was read
        self.screen_version = 0
        # At the parcel area (role "parcels") scans open pickups instead of attempts.
        self._load_manifest = load_manifest
        self.pickup = pickup_mode.make_desk(store, config.result_seconds) \
            if config.role == "parcels" else None
        if self.pickup is not None:
            pickup_mode.refresh(self, load_manifest)
        self.fault: str | None = None             # the last failure of the loop, shown
        self._fault_at = time.monotonic()
        self._alarm_until: float | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._frames = None  # the running loop's frames: `call` wakes it (no frame wait)
        self._wake = threading.Event()
        self.frames = 0
        door = hardware.door
        door.on_alarm = lambda kind, at: self._inbox.put(("alarm", kind))
        door.on_exit_request = lambda: self._inbox.put(("exit", None))
        door.on_override = lambda: self._inbox.put(("override", None))
        door.on_door = lambda is_open: self._inbox.put(("door", is_open))
        try:
            store.log_event(EventKind.STARTED, self.now(), payloads.StartedPayload(
                gate=config.gate_id, relay_unlocked=door.is_unlocked,
                # "mock": the office must see a gate whose door is not wired.
                pins=hardware.kind, pins_detail=hardware.description,
                bundle_version=self.bundle.version,
                clock_trusted=clock_trusted(), role=config.role))
        except Exception as exc:  # a full disk must not keep the gate (and its exit) down
            log.exception("could not log the start")
            self.fault = f"{type(exc).__name__}: {exc}"[:200]

    # Deciding ---------------------------------------------------------------

    def _judge(self, shown: list[Code], now: float) -> Decision:
        subject = subject_of(shown)
        history = self.store.history(subject.person_ref, subject.household,
                                     self.bundle.policy, now)
        state = self.bundle.gate_state(now, self.clock_trusted(), self.confirmed_at())
        return decide(shown, self.direction, state, now, history)

    def scan(self, text: str, now: float | None = None) -> list[Closed]:
        """One code read (camera or scanner gun): verify it and feed the open attempt."""
        now = self.now() if now is None else now
        code = codes.verify(text, self.bundle.trust_list(), now,
                            self.bundle.policy.code_skew_seconds)
        if courier_mode.handles(self, text, code, now):
            self.changed()
            return []
        if self.pickup is not None and pickup_mode.handles(self, text, code, now):
            return []  # the parcel area decides no attempts and opens no door
        closed = self.tracker.show(code, now)
        for attempt in closed:
            self._act(attempt, now)
        self.prompt = self.tracker.provisional(now) if self.tracker.pending else None
        self.changed()
        return closed

    def scanned_by_gun(self, text: str) -> None:
        """A code from the scanner gun's thread: decided on the loop's thread, like a frame's."""
        self._inbox.put(("gun", text))
        self._wake_loop()

    def handle_frame(self, image) -> list[Closed]:
        """Decode a frame and scan each code not seen within the cooldown."""
        self.frames += 1
        now = self.now()
        closed: list[Closed] = []
        symbols = self.decoder.decode(image)
        self.last_frame, self.last_symbols, self.last_frame_at = image, symbols, time.time()
        if symbols:
            self.tracker.touch(now)  # the window runs from when codes left the view
        for symbol in self.seen.admit(symbols, now):
            closed += self.scan(symbol.text, now)
        return closed

    def _act(self, attempt: Closed, now: float) -> None:
        d = attempt.decision
        logged = self.store.log_attempt(d, [code_summary(c) for c in attempt.codes], now,
                                        self.bundle.version)
        log.info("attempt %s %s %s", logged.id, d.outcome.value,
                 ",".join(r.value for r in d.reasons) or "-")
        # Only now, with the attempt committed, may the door open.
        if d.outcome is Outcome.ADMIT:
            self.hardware.door.unlock()
        # A newer attempt supersedes an older referral: the override button must never
        # open the door for the person now at the gate on someone else's referral.
        self.referral = Referral(logged.id, d, now) if d.outcome is Outcome.REFER else None
        self.result = Shown(d, logged.id, now, now + (
            self.config.referral_timeout_s if d.outcome is Outcome.REFER
            else self.config.result_seconds))
        self.hardware.sounder.play(SOUND[d.outcome])
        if self.on_decision:
            self.on_decision(d)

    def admit_referral(self, volunteer: str = "override-button") -> bool:
        """A volunteer admits the referred attempt: logged first, then the door opens."""
        return self.decide_referral(volunteer, Outcome.ADMIT, "override_button")

    def decide_referral(self, volunteer: str, outcome: Outcome, reason: str) -> bool:
        """A volunteer decides the referred attempt; logged with who and why, then acted on."""
        now = self.now()
        r = self.referral
        if r is None or now - r.since > self.config.referral_timeout_s:
            self.referral = None
            return False
        self.store.log_event(EventKind.OVERRIDE, now, payloads.OverridePayload(
            attempt_id=r.attempt_id, by=volunteer, outcome=outcome.value, reason=reason))
        self.referral = None
        if outcome is Outcome.ADMIT:
            self.hardware.door.unlock()
        self.result = Shown(r.decision, r.attempt_id, now, now + 3.0, decided=outcome,
                            decided_by=volunteer)
        self.hardware.sounder.play(SOUND[outcome])
        self.changed()
        return True

    def admit_by_hand(self, volunteer: str, id_number: str) -> Decision | None:
        """A resident without a phone, ID keyed and card checked by a volunteer: decided
        with only the pass required, logged with the volunteer, then acted on.
        None when no resident with a valid pass has this ID number."""
        now = self.now()
        entry = manual.look_up(self.bundle, id_number)
        if entry is None:
            return None
        history = self.store.history(entry.person_ref, entry.household,
                                     self.bundle.policy, now)
        state = self.bundle.gate_state(now, self.clock_trusted(), self.confirmed_at())
        d = manual.decide_by_hand(entry, self.direction, state, now, history)
        if manual.admits(d):
            d = replace(d, outcome=Outcome.ADMIT)  # what the policy refers, the hand admits
        logged = self.store.log_attempt(d, [manual.summary(entry, id_number, volunteer)],
                                        now, self.bundle.version,
                                        decided_by=f"volunteer:{volunteer}")
        if d.outcome is Outcome.ADMIT:
            self.hardware.door.unlock()
        self.result = Shown(d, logged.id, now, now + self.config.result_seconds,
                            decided_by=volunteer)
        self.hardware.sounder.play(SOUND[d.outcome])
        self.changed()
        return d

    def register_visitor(self, volunteer: str, name: str, phone: str, host: str,
                         purpose: str) -> None:
        """A walk-in visitor, registered by a volunteer; only masked data is kept."""
        self.store.log_event(EventKind.VISITOR, self.now(), payloads.VisitorPayload(
            name=mask_name(name), phone=mask_phone(phone), host_household=host,
            purpose=purpose[:60], by=volunteer))
        self.changed()

    def set_direction(self, direction: Direction, volunteer: str) -> None:
        """Switch a one-lane gate between entry and exit (logged with the volunteer)."""
        if direction is not self.direction:
            self.store.log_event(EventKind.DIRECTION, self.now(), payloads.DirectionPayload(
                from_=self.direction, to=direction, by=volunteer))
            self.direction = direction
            self.tracker = AttemptTracker(self._judge, self.config.attempt_window_s)
            self.changed()

    def call(self, fn: Callable[[], object], timeout: float = 5.0) -> object:
        """Run fn on the gate loop's thread (the only one that touches SQLite and pins)."""
        done: Future = Future()
        self._inbox.put(("call", (fn, done)))
        self._wake_loop()
        try:
            return done.result(timeout)
        except TimeoutError:
            done.cancel()  # the caller was told it failed: it must not happen later
            raise

    def _wake_loop(self) -> None:
        self._wake.set()
        if self._frames is not None:
            self._frames.nudge()

    def changed(self) -> None:
        """Something the screen shows changed."""
        self.screen_version += 1

    # Hardware events, handled on the loop's thread ---------------------------

    def _handle_inbox(self, now: float) -> None:
        while True:
            try:
                what, arg = self._inbox.get_nowait()
            except queue.Empty:
                return
            if what == "call":
                fn, done = arg
                if not done.set_running_or_notify_cancel():
                    continue
                try:
                    done.set_result(fn())
                except Exception as exc:  # handed back to the caller, who reports it
                    done.set_exception(exc)
            elif what == "gun":
                if self.gun_seen.admit([Symbol(arg, "gun", ())], now):
                    self.scan(arg, now)
            elif what == "override":
                self.admit_referral()
            elif what == "exit":
                self.store.log_event(EventKind.EXIT_REQUEST, now)
            elif what == "alarm":
                self.store.log_event(ALARM_EVENT[arg], now)
                self.hardware.sounder.play(Pattern.ALARM)
                self._alarm_until = now + self.config.alarm_seconds
            elif what == "door" and arg is False and self._alarm_until is not None:
                self.hardware.sounder.stop()
                self._alarm_until = None

    def tick(self, now: float | None = None) -> list[Closed]:
        """Time passes: close attempts nobody finished, expire referrals and alarms."""
        now = self.now() if now is None else now
        self._handle_inbox(now)
        closed = self.tracker.tick(now)
        for attempt in closed:
            self._act(attempt, now)
        if self.referral and now - self.referral.since > self.config.referral_timeout_s:
            self.referral = None
        if self.result and now >= self.result.until:
            self.result = None  # personal data leaves the screen with the countdown
            self.changed()
        if self.prompt and not self.tracker.pending:
            self.prompt = None
            self.changed()
        courier_mode.expire(self, now)
        pickup_mode.expire(self, now)
        if self.desk.expire(now):
            self.changed()
        if self._alarm_until is not None and now >= self._alarm_until:
            self.hardware.sounder.stop()
            self._alarm_until = None
        if now - self._purged >= PURGE_EVERY_S:
            self._purged = now
            self.store.purge(now - self.config.retention_days * 86400)
        if now - self._bundle_checked >= BUNDLE_CHECK_S:
            self._bundle_checked = now
            self._refresh_bundle()
            if self.pickup is not None:
                pickup_mode.refresh(self, self._load_manifest)
        return closed

    def _refresh_bundle(self) -> None:
        try:
            bundle = self._load_bundle()
        except Exception:  # a bad copy on disk must not stop the gate; keep the current one
            log.exception("could not load the bundle; keeping version %s", self.bundle.version)
            return
        if bundle.version > self.bundle.version:
            log.info("bundle %s -> %s", self.bundle.version, bundle.version)
            self.bundle = bundle
            self.desk.update(bundle.volunteers)
            self.changed()

    # Running ---------------------------------------------------------------

    def run(self, frames: LatestFrame, stop: threading.Event,
            alive: Callable[[], object] = lambda: None) -> None:
        """Decode the newest frame, tick, repeat, until `stop` is set.

        `alive()` is called on every pass from this thread (systemd's watchdog is fed
        from it, so a hung or stopped loop stops feeding it).

        A failure in one pass (a full disk, a dying SD card, a camera error) must not end
        the loop: the door stays locked because nothing is admitted without a committed
        log row, but the exit button, alarms and the screen keep working, and the gate
        retries once a second. The failure is shown on the screen."""
        self._frames = frames
        while not stop.is_set():
            alive()
            try:
                frame = frames.read(timeout=0.1)
                if frame is None and self._inbox.empty():
                    # No new frame (or the source ended): keep ticking, but a tap on the
                    # screen (`call`) wakes the loop at once.
                    self._wake.wait(0.05)
                    self._wake.clear()
                if frame is not None:
                    self.handle_frame(frame.image)
                self.tick()
                if self.fault and time.monotonic() - self._fault_at > FAULT_SHOWN_S:
                    self.fault = None
                    self.changed()
            except Exception as exc:
                if self.fault is None:
                    log.exception("gate loop failed; door stays locked, retrying")
                self.fault = f"{type(exc).__name__}: {exc}"[:200]
                self._fault_at = time.monotonic()
                self.changed()
                stop.wait(1.0)

    def close(self) -> None:
        """Lock the door first, then record the stop; safe to call twice."""
        self.hardware.close()
        try:
            self.store.log_event(EventKind.STOPPED, self.now(),
                                 payloads.StoppedPayload(gate=self.config.gate_id))
        except Exception:
            log.exception("could not log the stop")
