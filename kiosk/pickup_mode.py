"""The gate at the parcel area (role "parcels"): scans and keyed codes go to the pickup desk.

Runs on the gate loop's thread, like everything that touches the log: each verdict is
logged (a PICKUP event, outbox included) before the screen or the buzzer shows it.
Nothing here opens the door: a parcel area has no one to let in.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from gatehouse.codes.format import CodeError, CodeProblem, VerifiedCode
from gatehouse.codes.kinds import CodeKind
from gatehouse.event_payloads import PickupPayload
from gatehouse.events import EventKind
from gatehouse.parcels import Manifest, looks_like_code, valid_waybill
from kiosk.gpio import Pattern
from kiosk.pickup import CODE_TRIES, CodeResult, PickupDesk, Verdict, Via, find_code

log = logging.getLogger(__name__)
SOUND_TAKEN = Pattern.ADMIT    # one short beep: the right parcel
SOUND_WRONG = Pattern.REFUSE   # three long: put it back
SHOW_FIRST = ("请先出示出入证或输入取件码", "Show your pass or key your pickup code first")


def make_desk(store, result_seconds: float) -> PickupDesk:
    """The desk, knowing what this kiosk's own log says it handed out already."""
    return PickupDesk(store.pickups_taken(), result_seconds)


def handles(gate, text: str, code, now: float) -> bool:
    """Take every scan at the parcel area that courier mode did not: a pass opens a
    pickup, a pickup code shown opens one too, a waybill is checked."""
    desk: PickupDesk = gate.pickup
    if isinstance(code, VerifiedCode) and code.kind is CodeKind.PASS:
        if code.id in gate.bundle.revoked:
            desk.say("出入证已失效，请联系志愿者", "This pass is revoked: ask a volunteer", now)
            gate.hardware.sounder.play(SOUND_WRONG)
        elif desk.manifest is None:  # every parcel would read "not on the shelves"
            desk.say("尚未收到包裹清单，请联系志愿者", "No shelf list yet: ask a volunteer", now)
        else:
            desk.open(code.claims.household, Via.PASS, now)
    elif isinstance(code, CodeError) and code.problem is CodeProblem.NOT_OURS:
        m = desk.manifest
        if m is not None and m.by_waybill(text) is None and (
                find_code(m, text) is not None or looks_like_code(text)):
            key_code(gate, text, now)  # a pickup code shown as a QR or barcode (a wrong
            # one counts toward the pause like a keyed one: no guessing by phone screen)
        elif valid_waybill(text):
            waybill(gate, text, now)
        else:
            desk.say(*SHOW_FIRST, now)
    elif isinstance(code, CodeError) and code.kind is CodeKind.PASS:
        desk.say("出入证无效，请联系志愿者", "This pass is not valid: ask a volunteer", now)
        gate.hardware.sounder.play(SOUND_WRONG)
    else:  # a health code, a venue code…: not what the parcel area needs
        desk.say("请出示出入证或输入取件码", "Show your pass or key your pickup code", now)
    gate.changed()
    return True


def key_code(gate, text: str, now: float) -> CodeResult:
    """A pickup code keyed by the resident (no sign-in: it is their SMS)."""
    result = gate.pickup.key_code(text, now)
    if not result.ok:
        gate.hardware.sounder.play(Pattern.REFER)
        if result.pause_began:  # someone guessing codes: the office hears of it
            log.warning("wrong pickup codes: keyed codes paused until %.0f", result.paused_until)
            gate.store.log_event(EventKind.PICKUP, now, PickupPayload(
                outcome="codes_paused", paused_until=result.paused_until,
                wrong_codes=CODE_TRIES))
    gate.changed()
    return result


def waybill(gate, text: str, now: float, by: str | None = None) -> Verdict | None:
    """A parcel scanned (or keyed by a volunteer) during a pickup: logged, then shown."""
    desk: PickupDesk = gate.pickup
    trusted = gate.clock_trusted()
    v = desk.check(text, now, trusted)
    if v is None:
        desk.say(*SHOW_FIRST, now)
        gate.hardware.sounder.play(Pattern.REFER)
        gate.changed()
        return None
    if not v.again:
        volunteer = by or (gate.desk.signed_in.id if gate.desk.signed_in else None)
        gate.store.log_event(EventKind.PICKUP, now, desk.payload(v, volunteer))
        log.info("pickup %s %s %s", v.waybill, "taken" if v.taken else "wrong",
                 v.why.value if v.why else "-")
    desk.record(v, now, trusted)
    gate.hardware.sounder.play(SOUND_TAKEN if v.taken else SOUND_WRONG)
    gate.changed()
    return v


def done(gate, now: float) -> bool:
    """完成: the resident (or a volunteer) ends the pickup."""
    ended = gate.pickup.end(now) is not None
    gate.changed()
    return ended


def expire(gate, now: float) -> None:
    if gate.pickup is not None and gate.pickup.expire(now):
        gate.changed()


def refresh(gate, load: Callable[[], Manifest | None]) -> None:
    """Take a newer manifest the hub link saved; a bad copy keeps the one we have."""
    try:
        m = load()
    except Exception:  # a bad SD card must not stop the gate loop
        log.exception("could not load the shelf manifest")
        return
    current = gate.pickup.manifest
    if m is not None and (current is None or m.version > current.version):
        gate.pickup.manifest = m
        gate.changed()
