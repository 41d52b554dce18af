"""What each kind of event carries: one model per EventKind, imported by kiosk and hub.

gatehouse/events.py holds the envelope (seq, id, kind, at, payload); this module says
what the payload of each kind holds. The kiosk builds every payload from its model, so
a renamed key fails in its own tests; the hub reads every payload through it, so a
payload an old or broken gate sent is set aside with its reason ("parcel: waybill:
Field required") instead of becoming None deep in the parcel rules.

Old and new gates coexist: keys a model does not know are kept (`extra="allow"`), and
a key that some version of the kiosk did not send has a default. A key is required
only where every version sent it and the event means nothing without it. The store
adds `id`, `at`, `kind` and `attempt_id` around each payload (kiosk/attempt_log.py).

Adding a kind: its value in EventKind (the one registration line), its model here
naming it (`kind=`), its handler registered by its hub feature, and a line of it in
the replay fixture (docs/architecture.md, "Adding an event kind").
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gatehouse.events import EventKind
from gatehouse.policy.model import Direction, Outcome

# What a gate's login may make the hub store in each field (docs/security.md); the
# longest a kiosk writes fits (a household from a pass is up to 38 characters). Any
# other string is held to events.MAX_TEXT.
FIELD_LIMITS = {"name": 64, "courier": 64, "company": 64, "phone": 32, "purpose": 120,
                "household": 40, "building": 16, "room": 40, "by": 40, "volunteer": 40,
                "waybill": 40, "gate": 40, "person_ref": 64}


def _text(key: str) -> Any:
    return Annotated[str, Field(max_length=FIELD_LIMITS[key])]


Name, Phone, Purpose = _text("name"), _text("phone"), _text("purpose")
Household, Building, Room = _text("household"), _text("building"), _text("room")
By, Volunteer, Waybill, Gate = _text("by"), _text("volunteer"), _text("waybill"), _text("gate")
Courier, Company, PersonRef = _text("courier"), _text("company"), _text("person_ref")


# Each kind's model, filled by the models' class lines below (`kind=`) and only by
# them: read-only for everyone else.
_MODELS: dict[EventKind, type[EventPayload]] = {}
PAYLOADS: Mapping[EventKind, type[EventPayload]] = MappingProxyType(_MODELS)


class EventPayload(BaseModel):
    """Keys the store sets on every payload; a kind's own keys are in its subclass,
    which names its kind in its class line: `class ParcelPayload(EventPayload,
    kind=EventKind.PARCEL)` is the kind's model at both ends."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    def __init_subclass__(cls, kind: EventKind | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is not None:
            if kind in PAYLOADS:
                raise TypeError(f"{kind.value} already has its model, "
                                f"{PAYLOADS[kind].__name__}")
            _MODELS[kind] = cls

    id: str | None = None          # the event's id (a parcel's own id in a `parcel` event)
    at: float | None = None        # the event's time, as the envelope's
    kind: str | None = None
    attempt_id: str | None = None


class AttemptPayload(EventPayload, kind=EventKind.ATTEMPT):
    """A decided attempt: the attempts row as the gate logged it."""

    direction: Direction
    outcome: Outcome
    reasons: list[str] = []        # strings: a newer gate's reason must not be refused
    who: str | None = None
    person_ref: PersonRef | None = None
    name: Name | None = None
    household: Household | None = None
    building: Building | None = None
    pass_id: str | None = None
    policy_version: int | None = None
    bundle_version: int | None = None
    clock_trusted: bool | int | None = None   # the gate sends 0 / 1
    codes: list[dict[str, Any]] = []
    decided_by: str | None = None
    alert: bool = False


class OverridePayload(EventPayload, kind=EventKind.OVERRIDE):
    """A volunteer's decision on a referred attempt of the same gate."""

    attempt_id: str
    outcome: str = "admit"         # the first gates sent only admits, without the key
    reason: str | None = None
    by: By | None = None


class ExitRequestPayload(EventPayload, kind=EventKind.EXIT_REQUEST):
    """The exit button opened the door from inside: nothing more to say."""


class DoorForcedPayload(EventPayload, kind=EventKind.DOOR_FORCED):
    """The door opened while locked."""


class DoorHeldPayload(EventPayload, kind=EventKind.DOOR_HELD):
    """The door stayed open too long after an admit."""


class StartedPayload(EventPayload, kind=EventKind.STARTED):
    gate: Gate | None = None
    relay_unlocked: bool | None = None
    pins: str | None = None        # "mock": the office must see a gate with no door wired
    pins_detail: str | None = None
    bundle_version: int | None = None
    clock_trusted: bool | None = None
    role: str | None = None        # "parcels" at the parcel area (no door to drive)


class StoppedPayload(EventPayload, kind=EventKind.STOPPED):
    gate: Gate | None = None


class VolunteerPayload(EventPayload, kind=EventKind.VOLUNTEER):
    """Sign-in, sign-out, a wrong PIN or a lockout at the kiosk screen."""

    action: str                    # sign_in, sign_out, or why a sign-in failed
    volunteer: Volunteer


class DirectionPayload(EventPayload, kind=EventKind.DIRECTION):
    """A volunteer switched the lane between in and out."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Direction | None = Field(None, alias="from")
    to: Direction
    by: By | None = None


class CourierSessionPayload(EventPayload, kind=EventKind.COURIER_SESSION):
    """A courier's drop-off began (badge, name) or ended (count, who ended it)."""

    session: str
    action: str                    # start or end
    badge_id: str | None = None
    courier: Courier | None = None
    company: Company | None = None
    count: int | None = None
    by: By | None = None


class ParcelPayload(EventPayload, kind=EventKind.PARCEL):
    """A parcel dropped off at the gate; `id` is the parcel's (kiosk/courier_session.py)."""

    id: str
    waybill: Waybill
    session: str | None = None
    courier: Courier | None = None
    company: Company | None = None
    carrier: str | None = None
    carrier_name: str | None = None
    room: Room | None = None
    fresh: bool = False
    frozen: bool = False
    clock_trusted: bool | None = None  # False: the hub counts the hold from arrival
    keyed_by: By | None = None     # a volunteer keyed a label that would not scan


class ParcelVoidPayload(EventPayload, kind=EventKind.PARCEL_VOID):
    """A parcel entry undone by the volunteer of the gate that recorded it."""

    parcel: str
    session: str | None = None
    waybill: Waybill | None = None
    by: By | None = None


class VisitorPayload(EventPayload, kind=EventKind.VISITOR):
    """A walk-in registered at the gate, masked there."""

    name: Name
    host_household: Household
    phone: Phone | None = None
    purpose: Purpose | None = None
    by: By | None = None


class PickupPayload(EventPayload, kind=EventKind.PICKUP):
    """A parcel handed out (or a wrong one scanned) at the parcel area, or the keypad
    paused after wrong pickup codes (`outcome` codes_paused): docs/mqtt.md."""

    outcome: str                   # taken, wrong or codes_paused
    pickup: str | None = None
    parcel: str | None = None
    waybill: Waybill | None = None
    household: Household | None = None
    code: str | None = None
    slot: str | None = None
    via: str | None = None
    why: str | None = None
    volunteer: Volunteer | None = None
    manifest_version: int | None = None
    paused_until: float | None = None
    wrong_codes: int | None = None


class CameraPayload(EventPayload, kind=EventKind.CAMERA):
    """The camera stopped delivering frames (`lost`: the gate reads no code until it is
    back, though the gun and the buttons still work) or delivers again (`back`)."""

    state: Literal["lost", "back"]
    problem: str = Field("", max_length=200)   # the driver's words, e.g. "no /dev/video0"
    lost_for_s: float | None = Field(None, ge=0, le=10**9)   # on `back`: how long blind


# Every kind a gate may send has its model here, in every process that imports this
# module (a model defined elsewhere would exist only where its module was imported).
if set(_MODELS) != set(EventKind):
    raise ImportError("event kinds without a model: "
                      + ", ".join(sorted(k.value for k in set(EventKind) - set(_MODELS))))


class PayloadError(ValueError):
    """A payload that does not fit its kind's model; the text names the kind and key."""


def read_payload(kind: EventKind, payload: dict[str, Any]) -> EventPayload:
    """The typed payload of an event of `kind`; PayloadError when it does not fit."""
    try:
        return PAYLOADS[kind].model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PayloadError(f"{kind.value}: {where}: {first['msg']}{more}") from None


def to_wire(kind: EventKind, payload: EventPayload) -> dict[str, Any]:
    """What the kiosk sends for `payload`: only the keys it set, each one declared.

    A key the model does not declare is refused here, on the kiosk, where a test sees
    it: at the hub it would be kept as an unknown extra and read by no one."""
    if type(payload) is not PAYLOADS[kind]:
        raise TypeError(f"a {kind.value} event carries a {PAYLOADS[kind].__name__}, "
                        f"not a {type(payload).__name__}")
    if payload.model_extra:
        raise ValueError(f"{kind.value}: keys not in {type(payload).__name__}: "
                         f"{', '.join(sorted(payload.model_extra))}")
    return payload.model_dump(mode="json", by_alias=True, exclude_unset=True)
