"""What a compound's hub and its district (the street office) say to each other: one
schema both sides import (docs/district.md).

Up, over the compound's Mosquitto bridge to the district's broker:
- `FeedBatch`: the compound's gate events in its own gap-free sequence (`cseq`), each
  reduced to what tracing needs, masked (no names, phones or rooms leave the compound);
- `CompoundStatus`: how the compound is doing (every 30 s and on change);
- `OrderReport`: what became of an order the district sent.
Down, from the district back over the same bridge:
- `FeedAck`: the `cseq` ranges the district has committed (the hub drops nothing
  before an ack covers it, and sends again what stays unacknowledged);
- `OrderList`: every order for that compound not yet reported, oldest first, each one
  COSE_Sign1-signed (CBOR of the order) by the district's key (`signed_order` / `open_order`).
"""
from __future__ import annotations

import base64
import re
from enum import Enum
from typing import Any

import cbor2
from pydantic import ConfigDict, Field, ValidationError, field_validator

from gatehouse.codes.cose import open_signed, sign1
from gatehouse.codes.keys import SigningKey, TrustedKey
from gatehouse.events import _Versioned, _Wire
from gatehouse.events import parse as parse  # noqa: F401  (one parse for every wire model)

MAX_FEED_EVENTS = 500
MAX_ORDERS_PER_LIST = 200
MAX_ORDER_BYTES = 32 * 1024
# MQTT topics become NATS subjects with '.' between levels, so a compound id that
# travels to a district has no '.' of its own (the hub's GATE_ID allows one).
COMPOUND_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_ID = r"^[A-Za-z0-9_-]{1,40}$"
_REF = r"^[0-9a-f]{24}$"
_HEX32 = r"^[0-9a-f]{32}$"

# What goes up tolerates keys it does not know: a compound upgraded before its district
# must not have its whole feed set aside for one field added. What comes down (acks and
# signed orders) stays strict: a hub refuses an order it cannot fully read, with a
# reason, rather than apply half of it.
_LENIENT = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class _UpItem(_Wire):
    model_config = _LENIENT


class _Up(_Versioned):
    model_config = _LENIENT


class FeedEvent(_UpItem):
    """One gate event as it leaves the compound: the tracing facts, masked.

    `kind` is kept as text (not gatehouse.events.EventKind): a district must store the
    kinds of compounds newer than itself rather than refuse their whole batch."""

    cseq: int = Field(ge=1, le=2**53)             # the compound's gap-free sequence
    id: str = Field(pattern=_HEX32)               # the gate's event id (idempotency key)
    gate: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    gate_seq: int = Field(ge=1, le=2**53)
    kind: str = Field(pattern=r"^[a-z_]{1,40}$")
    at: float = Field(ge=1.0e9, le=4.0e9)         # when it happened (gate clock, epoch s)
    direction: str | None = Field(None, max_length=10)       # in / out
    outcome: str | None = Field(None, max_length=20)         # admit / refer / refuse
    person_ref: str | None = Field(None, pattern=_REF)       # same keyed hash everywhere
    building: str | None = Field(None, max_length=40)
    household: str | None = Field(None, max_length=40)       # masked: 7-2-**2
    name: str | None = Field(None, max_length=64)            # masked: 张*
    reasons: list[str] = Field(default_factory=list, max_length=20)
    alert: bool = False                                      # an alerting event at the gate


class FeedBatch(_Up):
    compound: str = Field(pattern=_ID)
    sent_at: float = Field(allow_inf_nan=False)
    events: list[FeedEvent] = Field(min_length=1, max_length=MAX_FEED_EVENTS)


class FeedAck(_Versioned):
    """`cseq` ranges [first, last] (inclusive) committed at the district."""

    compound: str = Field(pattern=_ID)
    ranges: list[tuple[int, int]] = Field(max_length=1000)


class CompoundStatus(_Up):
    compound: str = Field(pattern=_ID)
    name: str = Field("", max_length=80)
    at: float = Field(ge=1.0e9, le=4.0e9)
    bundle_version: int = Field(ge=0, le=2**53)
    policy_version: int = Field(ge=0, le=2**53)
    order_seq: int = Field(0, ge=0, le=2**53)     # the last district order applied
    feed_last: int = Field(0, ge=0, le=2**53)     # the last cseq written
    backlog: int = Field(0, ge=0, le=2**53)       # feed events not yet acknowledged
    gates_online: int = Field(0, ge=0, le=10_000)
    gates_total: int = Field(0, ge=0, le=10_000)
    buildings: dict[str, str] = Field(default_factory=dict, max_length=2000)  # not normal
    today: dict[str, int] = Field(default_factory=dict, max_length=20)  # admit/refer/refuse
    alerts_open: int = Field(0, ge=0, le=10**9)
    # Set while the compound's link is silent: its feed pending and no FeedAck since then
    # (hub/district_silence.py): what it sends arrives, what the district sends down
    # does not (a refused `down/#` subscription): its technician restarts its broker.
    no_ack_since: float | None = Field(None, ge=1.0e9, le=4.0e9)


class OrderKind(str, Enum):
    SEAL = "seal"            # building -> sealed (封控)
    CONTROL = "control"      # building -> controlled (管控)
    REOPEN = "reopen"        # building -> normal
    POLICY = "policy"        # a policy template (the compound keeps its own version)


class Order(_Wire):
    """The signed content of one order. `seq` grows by one per compound: a hub applies
    orders in `seq` order and never one at or below the last it applied."""

    district: str = Field(pattern=_ID)
    compound: str = Field(pattern=_ID)
    seq: int = Field(ge=1, le=2**53)
    kind: OrderKind
    building: str | None = Field(None, max_length=40)
    policy: dict[str, Any] | None = None          # a Policy document, for kind=policy
    issued_at: float = Field(ge=1.0e9, le=4.0e9)
    issued_by: str = Field(max_length=64)
    note: str = Field("", max_length=200)

    @field_validator("building")
    @classmethod
    def _building_named(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("an empty building")
        return v


class OrderList(_Versioned):
    district: str = Field(pattern=_ID)
    compound: str = Field(pattern=_ID)
    orders: list[str] = Field(max_length=MAX_ORDERS_PER_LIST)   # base64 COSE_Sign1 each


class ReportStatus(str, Enum):
    APPLIED = "applied"
    STALE = "stale"          # at or below the last order applied: not applied again
    REFUSED = "refused"      # signature, compound or content wrong: reason says


class OrderReport(_Up):
    compound: str = Field(pattern=_ID)
    seq: int = Field(ge=0, le=2**53)
    status: ReportStatus
    reason: str = Field("", max_length=300)
    at: float = Field(ge=1.0e9, le=4.0e9)
    bundle_version: int = Field(0, ge=0, le=2**53)
    policy_version: int = Field(0, ge=0, le=2**53)


def signed_order(order: Order, key: SigningKey) -> str:
    """The order as it travels in an OrderList: COSE_Sign1 over its JSON, base64."""
    return base64.b64encode(sign1(cbor2.dumps(order.model_dump(mode="json")), key)).decode()


def open_order(text: str, district: TrustedKey) -> Order:
    """The order only `district` may have signed; ValueError saying why otherwise."""
    try:
        blob = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("order is not base64") from None
    body = open_signed(blob, district, MAX_ORDER_BYTES, "district order")
    if not isinstance(body, dict):
        raise ValueError("district order payload is not a map")
    try:
        return Order.model_validate(body)
    except ValidationError as exc:
        raise ValueError(f"district order: {exc.errors()[0]['msg']}") from None
