"""A courier's drop-off: the badge opens it, each waybill scanned adds a parcel.

First in precedence, at the gate and at the parcel area alike: a courier's badge is how
a drop-off begins, never a red "no entry". While one is open, waybills (and, when the
volunteer asked for it, the next resident's pass, for the room) are the courier's;
everything else goes on to the other modes. The session's rules are in
kiosk/courier_session.py; this file logs and beeps.
"""
from __future__ import annotations

from gatehouse.codes.format import CodeError, CodeProblem, VerifiedCode
from gatehouse.codes.kinds import CodeKind
from gatehouse.event_payloads import CourierSessionPayload, ParcelPayload, ParcelVoidPayload
from gatehouse.events import EventKind
from gatehouse.parcels import looks_like_code, valid_waybill
from kiosk.attempt import Closed
from kiosk.courier_session import CourierSession
from kiosk.gpio import Pattern
from kiosk.modes.base import Mode, ModeContext, Scan
from kiosk.pickup_desk import find_code

SOUND_PARCEL = Pattern.ADMIT  # one short beep per parcel recorded


def _badge(code) -> bool:
    return isinstance(code, VerifiedCode) and code.kind is CodeKind.COURIER


class CourierMode(Mode):
    """The open drop-off (`session`), if any."""

    name = "courier"

    def __init__(self, ctx: ModeContext):
        super().__init__(ctx)
        self.session: CourierSession | None = None

    def takes(self, scan: Scan) -> bool:
        s, code = self.session, scan.code
        if _badge(code):
            # A revoked badge opens nothing: the entry judge refuses it at a gate
            # (PASS_REVOKED, an alert), the pickup desk says so at the parcel area.
            return code.id not in self.ctx.bundle.revoked
        if s is None:
            return False
        if isinstance(code, VerifiedCode) and code.kind is CodeKind.PASS and s.room_from_pass:
            # Only when the volunteer asked for it: otherwise a resident passing during a
            # drop-off is a resident at the gate, decided and logged as always.
            return True
        return isinstance(code, CodeError) and code.problem is CodeProblem.NOT_OURS \
            and valid_waybill(scan.text) and not self._on_the_shelves(scan.text)

    def _on_the_shelves(self, text: str) -> bool:
        """A parcel already on the shelves, or a pickup code, shown at the parcel area
        while a drop-off is open is a resident's pickup, never a new arrival (review of
        session 4: both were logged as parcels)."""
        m = self.ctx.manifest()
        return m is not None and (m.by_waybill(text) is not None
                                  or find_code(m, text) is not None or looks_like_code(text))

    def on_scan(self, scan: Scan) -> list[Closed]:
        code, now = scan.code, scan.now
        if _badge(code):
            if self.session is None or self.session.badge_id != code.id:
                self.end(now)
                self._start(code, now)
        elif isinstance(code, VerifiedCode):       # the resident's pass: the room
            self.session.room = code.claims.household
            self.session.room_from_pass = False
            self.session.last = now
        else:
            self.add_waybill(scan.text, now)
        return []

    def on_tick(self, now: float) -> None:
        if self.session is None:
            return
        if self.session.badge_id in self.ctx.bundle.revoked:   # revoked while open
            self.end(now, "revoked")
        elif self.session.idle(now):
            self.end(now, "idle")

    def _start(self, badge: VerifiedCode, now: float) -> None:
        s = self.session = CourierSession(badge.id, badge.claims.name, badge.claims.company,
                                          now, now)
        self.ctx.log.log_event(EventKind.COURIER_SESSION, now, CourierSessionPayload(
            session=s.id, action="start", badge_id=badge.id,
            courier=badge.claims.name, company=badge.claims.company))

    # What a volunteer does on the screen (and the scans above) ---------------

    def set(self, room: str | None = None, fresh: bool | None = None,
            frozen: bool | None = None, room_from_pass: bool | None = None) -> bool:
        """Set what the next parcels carry; False when no drop-off is open."""
        s = self.session
        if s is None:
            return False
        s.room = s.room if room is None else room
        s.fresh = s.fresh if fresh is None else fresh
        s.frozen = s.frozen if frozen is None else frozen
        s.room_from_pass = s.room_from_pass if room_from_pass is None else room_from_pass
        self.ctx.changed()
        return True

    def add_waybill(self, text: str, now: float, keyed_by: str | None = None) -> bool:
        """Record one waybill in the open drop-off (scanned, or keyed by a volunteer when
        the label will not scan); False when there is no drop-off or it is not a waybill."""
        s = self.session
        if s is None or not valid_waybill(text):
            return False
        parcel = s.add(text, now)
        if parcel is not None:
            self.ctx.log.log_event(EventKind.PARCEL, now, ParcelPayload(
                session=s.id, courier=s.name, company=s.company, **parcel.to_json(),
                # the hub counts the hold from arrival when the gate's own clock is unsure
                clock_trusted=bool(self.ctx.clock_trusted()),
                **({"keyed_by": keyed_by} if keyed_by else {})))
            self.ctx.sounder.play(SOUND_PARCEL)
        self.ctx.changed()
        return True

    def undo_last(self, now: float, by: str) -> None:
        s = self.session
        if s is None:
            return
        parcel = s.undo_last(now)
        if parcel is not None:
            self.ctx.log.log_event(EventKind.PARCEL_VOID, now, ParcelVoidPayload(
                session=s.id, parcel=parcel.id, waybill=parcel.waybill, by=by))
        self.ctx.changed()

    def end(self, now: float, by: str | None = None) -> None:
        if self.session is None:
            return
        s, self.session = self.session, None
        self.ctx.log.log_event(EventKind.COURIER_SESSION, now, CourierSessionPayload(
            session=s.id, action="end", count=len(s.parcels), by=by))
        self.ctx.changed()

    # The screen ----------------------------------------------------------------

    def screen_mode(self) -> str | None:
        return "courier" if self.session is not None else None

    def screen_state(self, now: float) -> dict:
        s = self.session
        return {"courier": s.to_json() if s is not None else None}
