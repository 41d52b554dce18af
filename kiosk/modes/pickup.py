"""The parcel area (role "parcels"): scans and keyed codes go to the pickup desk.

Takes every scan the courier mode did not: a pass or a pickup code opens a pickup, a
waybill is checked against it. Each verdict is logged (a PICKUP event, outbox
included) before the screen or the buzzer shows it. Nothing here opens the door: a
parcel area has no one to let in. The desk's rules are in kiosk/pickup_desk.py.
"""
from __future__ import annotations

import logging

from gatehouse.codes.format import CodeError, CodeProblem, VerifiedCode
from gatehouse.codes.kinds import CodeKind
from gatehouse.event_payloads import PickupPayload
from gatehouse.events import EventKind
from gatehouse.parcels import looks_like_code, valid_waybill
from kiosk.attempt import Closed
from kiosk.gpio import Pattern
from kiosk.modes.base import Mode, ModeContext, Scan
from kiosk.pickup_desk import CODE_TRIES, CodeResult, PickupDesk, Verdict, Via, find_code

log = logging.getLogger(__name__)
SOUND_TAKEN = Pattern.ADMIT    # one short beep: the right parcel
SOUND_WRONG = Pattern.REFUSE   # three long: put it back
SHOW_FIRST = ("请先出示出入证或输入取件码", "Show your pass or key your pickup code first")
MANIFEST_CHECK_S = 0.2  # a stat() per check: a newer shelf list applies within a second


class PickupMode(Mode):
    """The pickup desk (`desk`), fed with the hub's newest shelf manifest."""

    name = "pickup"
    roles = ("parcels",)

    def __init__(self, ctx: ModeContext):
        super().__init__(ctx)
        # What this kiosk's own log says it handed out already, across restarts.
        self.desk = PickupDesk(ctx.log.pickups_taken(), ctx.config.result_seconds)
        self._checked = 0.0
        self.refresh()

    def takes(self, scan: Scan) -> bool:
        return True  # the parcel area decides no attempts and opens no door

    def on_scan(self, scan: Scan) -> list[Closed]:
        """A pass opens a pickup, a pickup code shown opens one too, a waybill is checked."""
        desk, code, text, now = self.desk, scan.code, scan.text, scan.now
        if isinstance(code, VerifiedCode) and code.kind is CodeKind.PASS:
            if code.id in self.ctx.bundle.revoked:
                desk.say("出入证已失效，请联系志愿者", "This pass is revoked: ask a volunteer", now)
                self.ctx.sounder.play(SOUND_WRONG)
            elif desk.manifest is None:  # every parcel would read "not on the shelves"
                desk.say("尚未收到包裹清单，请联系志愿者", "No shelf list yet: ask a volunteer",
                         now)
            else:
                desk.open(code.claims.household, Via.PASS, now)
        elif isinstance(code, CodeError) and code.problem is CodeProblem.NOT_OURS:
            m = desk.manifest
            if m is not None and m.by_waybill(text) is None and (
                    find_code(m, text) is not None or looks_like_code(text)):
                self.key_code(text, now)  # a pickup code shown as a QR or barcode (a wrong
                # one counts toward the pause like a keyed one: no guessing by phone screen)
            elif valid_waybill(text):
                self.waybill(text, now)
            else:
                desk.say(*SHOW_FIRST, now)
        elif isinstance(code, VerifiedCode) and code.kind is CodeKind.COURIER:
            # only a revoked badge gets here: the courier mode takes every other one
            desk.say("快递员证已注销，请联系志愿者", "This courier badge is revoked: ask a volunteer",
                     now)
            self.ctx.sounder.play(SOUND_WRONG)
        elif isinstance(code, CodeError) and code.kind is CodeKind.PASS:
            desk.say("出入证无效，请联系志愿者", "This pass is not valid: ask a volunteer", now)
            self.ctx.sounder.play(SOUND_WRONG)
        else:  # a health code, a venue code…: not what the parcel area needs
            desk.say("请出示出入证或输入取件码", "Show your pass or key your pickup code", now)
        return []

    def on_tick(self, now: float) -> None:
        if self.desk.expire(now):
            self.ctx.changed()
        if now - self._checked >= MANIFEST_CHECK_S:
            self._checked = now
            self.refresh()

    def refresh(self) -> None:
        """Take a newer manifest the hub link saved; a bad copy keeps the one we have."""
        try:
            m = self.ctx.manifest()
        except Exception:  # a bad SD card must not stop the gate loop
            log.exception("could not load the shelf manifest")
            return
        current = self.desk.manifest
        if m is not None and (current is None or m.version > current.version):
            self.desk.manifest = m
            self.ctx.changed()

    # What a resident or a volunteer does on the screen (and the scans above) ----

    def key_code(self, text: str, now: float) -> CodeResult:
        """A pickup code keyed by the resident (no sign-in: it is their SMS)."""
        result = self.desk.key_code(text, now)
        if not result.ok:
            self.ctx.sounder.play(Pattern.REFER)
            if result.pause_began:  # someone guessing codes: the office hears of it
                log.warning("wrong pickup codes: keyed codes paused until %.0f",
                            result.paused_until)
                self.ctx.log.log_event(EventKind.PICKUP, now, PickupPayload(
                    outcome="codes_paused", paused_until=result.paused_until,
                    wrong_codes=CODE_TRIES))
        self.ctx.changed()
        return result

    def waybill(self, text: str, now: float, by: str | None = None) -> Verdict | None:
        """A parcel scanned (or keyed by a volunteer) during a pickup: logged, then shown."""
        ctx, desk = self.ctx, self.desk
        trusted = ctx.clock_trusted()
        v = desk.check(text, now, trusted)
        if v is None:
            desk.say(*SHOW_FIRST, now)
            ctx.sounder.play(Pattern.REFER)
            ctx.changed()
            return None
        if not v.again:
            signed_in = ctx.volunteers.signed_in
            volunteer = by or (signed_in.id if signed_in else None)
            ctx.log.log_event(EventKind.PICKUP, now, desk.payload(v, volunteer))
            log.info("pickup %s %s %s", v.waybill, "taken" if v.taken else "wrong",
                     v.why.value if v.why else "-")
        desk.record(v, now, trusted)
        ctx.sounder.play(SOUND_TAKEN if v.taken else SOUND_WRONG)
        ctx.changed()
        return v

    def done(self, now: float) -> bool:
        """完成: the resident (or a volunteer) ends the pickup."""
        ended = self.desk.end(now) is not None
        self.ctx.changed()
        return ended

    # The screen ----------------------------------------------------------------

    def screen_mode(self) -> str:
        return "pickup"

    def screen_state(self, now: float) -> dict:
        return {"pickup": self.desk.to_json(now, self.ctx.clock_trusted())}
