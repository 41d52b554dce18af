"""The gate in courier mode: a courier badge opens a drop-off, waybills add parcels.

Runs on the gate loop's thread, like everything that touches the log.
"""
from __future__ import annotations

from gatehouse.codes.format import CodeError, CodeProblem, VerifiedCode
from gatehouse.codes.kinds import CodeKind
from gatehouse.event_payloads import CourierSessionPayload, ParcelPayload, ParcelVoidPayload
from gatehouse.events import EventKind
from gatehouse.parcels import valid_waybill
from kiosk.courier import CourierSession


def handles(gate, text: str, code, now: float) -> bool:
    """Take a scan that belongs to a drop-off; False lets the gate treat it as a person's."""
    if isinstance(code, VerifiedCode) and code.kind is CodeKind.COURIER:
        if gate.courier is None or gate.courier.badge_id != code.id:
            end(gate, now)
            start(gate, code, now)
        return True
    if gate.courier is None:
        return False
    if isinstance(code, VerifiedCode) and code.kind is CodeKind.PASS \
            and gate.courier.room_from_pass:
        # Only when the volunteer asked for it: otherwise a resident passing during a
        # drop-off is a resident at the gate, decided and logged as always.
        gate.courier.room = code.claims.household
        gate.courier.room_from_pass = False
        gate.courier.last = now
        return True
    if isinstance(code, CodeError) and code.problem is CodeProblem.NOT_OURS \
            and valid_waybill(text):
        add_waybill(gate, text, now)
        return True
    return False


def add_waybill(gate, text: str, now: float, keyed_by: str | None = None) -> bool:
    """Record one waybill in the open drop-off (scanned, or keyed by a volunteer when the
    label will not scan); False when there is no drop-off or it is not a waybill."""
    if gate.courier is None or not valid_waybill(text):
        return False
    parcel = gate.courier.add(text, now)
    if parcel is not None:
        gate.store.log_event(EventKind.PARCEL, now, ParcelPayload(
            session=gate.courier.id, courier=gate.courier.name,
            company=gate.courier.company, **parcel.to_json(),
            # the hub counts the hold from arrival when the gate's own clock is unsure
            clock_trusted=bool(gate.clock_trusted()),
            **({"keyed_by": keyed_by} if keyed_by else {})))
        gate.hardware.sounder.play(gate.SOUND_PARCEL)
    gate.changed()
    return True


def start(gate, badge: VerifiedCode, now: float) -> None:
    gate.courier = CourierSession(badge.id, badge.claims.name, badge.claims.company, now, now)
    gate.store.log_event(EventKind.COURIER_SESSION, now, CourierSessionPayload(
        session=gate.courier.id, action="start", badge_id=badge.id,
        courier=badge.claims.name, company=badge.claims.company))


def end(gate, now: float, by: str | None = None) -> None:
    if gate.courier is None:
        return
    s, gate.courier = gate.courier, None
    gate.store.log_event(EventKind.COURIER_SESSION, now, CourierSessionPayload(
        session=s.id, action="end", count=len(s.parcels), by=by))
    gate.changed()


def expire(gate, now: float) -> None:
    if gate.courier is not None and gate.courier.idle(now):
        end(gate, now, "idle")


def undo_last(gate, now: float, by: str) -> None:
    if gate.courier is None:
        return
    parcel = gate.courier.undo_last(now)
    if parcel is not None:
        gate.store.log_event(EventKind.PARCEL_VOID, now, ParcelVoidPayload(
            session=gate.courier.id, parcel=parcel.id, waybill=parcel.waybill, by=by))
    gate.changed()
