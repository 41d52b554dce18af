"""What gates and hub say to each other over MQTT: one schema both sides import.

Payloads are JSON. A gate sends its outbox as EventBatch messages; the hub answers
each committed batch with an Ack of sequence ranges; a gate's Heartbeat tells the
office how it is doing. docs/mqtt.md documents each with an example.
"""
from __future__ import annotations

import json
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

WIRE_VERSION = 1
MAX_EVENTS_PER_BATCH = 500
MAX_MESSAGE_BYTES = 1024 * 1024
# What any event may carry (a real attempt is ~1 KiB): a gate's login must not be able
# to make the hub store a 250,000-character name (docs/security.md). Each field's own
# limit (names 64, rooms 40…) is in its kind's model, gatehouse/event_payloads.py.
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_TEXT = 1000                   # any string inside a payload
MAX_ITEMS = 100                   # any list or object inside a payload
MAX_DEPTH = 5


class EventKind(str, Enum):
    ATTEMPT = "attempt"              # a decided attempt (admit / refer / refuse)
    OVERRIDE = "override"            # a volunteer admitted a referred attempt
    EXIT_REQUEST = "exit_request"    # the exit button opened the door from inside
    DOOR_FORCED = "door_forced"      # the door opened while locked
    DOOR_HELD = "door_held"          # the door stayed open too long after an admit
    STARTED = "started"              # the gate loop started (relay state recorded)
    STOPPED = "stopped"              # the gate loop stopped cleanly
    VOLUNTEER = "volunteer"          # sign-in, sign-out, lockout at the kiosk screen
    DIRECTION = "direction"          # a volunteer switched the lane between in and out
    COURIER_SESSION = "courier_session"  # a courier's drop-off began or ended
    PARCEL = "parcel"                # a parcel dropped off (waybill, room, fresh/frozen)
    PARCEL_VOID = "parcel_void"      # a parcel entry undone by the volunteer
    VISITOR = "visitor"              # a walk-in visitor registered at the gate
    PICKUP = "pickup"                # a parcel handed out at the parcel area (or a wrong one scanned)
    CAMERA = "camera"                # the gate's camera was lost (it cannot read codes) or came back


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Event(_Wire):
    """One outbox row: `seq` is the gate's gap-free sequence, `id` the idempotency key."""

    seq: int = Field(ge=1)
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    kind: EventKind
    at: float = Field(ge=1.0e9, le=4.0e9)  # when it happened, by the gate's clock (epoch s)
    payload: dict[str, Any]

    @field_validator("payload")
    @classmethod
    def _bounded(cls, payload: dict[str, Any]) -> dict[str, Any]:
        try:  # NaN and Infinity are not JSON: SQLite's json functions choke on them
            size = len(json.dumps(payload, ensure_ascii=False, allow_nan=False).encode())
        except ValueError:
            raise ValueError("payload holds a number that is not finite") from None
        if size > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload of {size} bytes is over {MAX_PAYLOAD_BYTES}")
        _check_value(payload, "payload", 0)
        return payload


def _check_value(value: Any, where: str, depth: int) -> None:
    """Every string, list and object small, and nothing nested deep."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH}")
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"{where}: {len(value)} characters, at most {MAX_TEXT}")
    elif isinstance(value, (list, dict)):
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{where}: {len(value)} items, at most {MAX_ITEMS}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and len(key) > 64:
                raise ValueError(f"{where}: a key of {len(key)} characters")
            _check_value(item, f"{where}.{key}", depth + 1)


def check_version(v: int) -> int:
    """A message of a wire version this side does not speak is refused, never misread."""
    if v != WIRE_VERSION:
        raise ValueError(f"wire version {v} is not understood here (this side speaks "
                         f"{WIRE_VERSION}): upgrade it before it can read this")
    return v


class _Versioned(_Wire):
    v: int = WIRE_VERSION

    _version = field_validator("v")(check_version)


class EventBatch(_Versioned):
    gate: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    sent_at: float = Field(allow_inf_nan=False)
    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class Ack(_Versioned):
    """Sequence ranges [first, last] (inclusive) the hub has committed for this gate."""

    ranges: list[tuple[int, int]]


class Heartbeat(_Versioned):
    gate: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    at: float
    # Bounded: a number only a tampered gate sends (10**400) once made every /metrics
    # scrape fail (docs/security.md).
    outbox: int = Field(ge=0, le=10**12)   # rows not yet acknowledged by the hub
    bundle_version: int = Field(ge=0, le=2**53)
    policy_version: int = Field(ge=0, le=2**53)
    clock_trusted: bool
    clock_offset: float | None = Field(None, ge=-1e10, le=1e10)  # hub time - gate time, s
    fps: float = Field(0.0, ge=0, le=1000)
    decoder: str = Field("", max_length=20)
    camera_ok: bool = True
    direction: str = Field("in", max_length=10)
    pins: str = Field("", max_length=80)   # "mock" when the gate drives no real door
    manifest_version: int | None = Field(None, ge=0, le=2**53)  # a parcel kiosk's manifest
    tls: bool | None = None   # linked to the broker over TLS; None: a gate from before


class WireError(ValueError):
    """A message that does not fit its schema; the text says why."""


def parse(model: type[_Wire], data: bytes) -> Any:
    """Validate a JSON message; WireError (never another exception) when it is bad."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(data)} bytes is over the limit")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise WireError(f"not JSON: {first['msg']}") from None
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise WireError(f"{model.__name__}: {where}: {first['msg']}"
                        + (f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1
                           else "")) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None


def dump(message: _Wire) -> bytes:
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=False,
                      separators=(",", ":")).encode()


def ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """[1,2,3,7,8] -> [(1,3),(7,8)]."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out
