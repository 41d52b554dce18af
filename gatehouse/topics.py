"""MQTT topic names: the one table both kiosk and hub use (docs/mqtt.md).

Gates publish only under their own `gate/<id>/` (the broker's ACL, by username,
enforces it); only the hub publishes under `hub/` and on the gates' ack and
command topics.
"""
from __future__ import annotations

import re

ROOT = "gatehouse"
GATE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

HUB_BUNDLE = f"{ROOT}/hub/bundle"        # retained, signed bundle (COSE_Sign1 bytes)
HUB_TIME = f"{ROOT}/hub/time"            # signed time beacon, QoS 0, every few seconds
HUB_STATUS = f"{ROOT}/hub/status"        # retained "online" / "offline" (last will)
HUB_PARCELS = f"{ROOT}/hub/parcels"      # retained, signed shelf manifest (parcel-area kiosks)
GATE_ANY_EVENTS = f"{ROOT}/gate/+/events"
GATE_ANY_STATUS = f"{ROOT}/gate/+/status"
GATE_ANY_HEARTBEAT = f"{ROOT}/gate/+/heartbeat"

ONLINE, OFFLINE = b"online", b"offline"


def gate_events(gate: str) -> str:
    """Gate -> hub, QoS 1: a batch of outbox rows (events.EventBatch)."""
    return f"{ROOT}/gate/{gate}/events"


def gate_status(gate: str) -> str:
    """Gate -> hub, retained: online / offline (the gate's last will)."""
    return f"{ROOT}/gate/{gate}/status"


def gate_heartbeat(gate: str) -> str:
    """Gate -> hub, QoS 0: outbox depth, bundle version, clock, fps (events.Heartbeat)."""
    return f"{ROOT}/gate/{gate}/heartbeat"


def gate_ack(gate: str) -> str:
    """Hub -> gate, QoS 1: the sequence ranges the hub has committed (events.Ack)."""
    return f"{ROOT}/gate/{gate}/ack"


def gate_of(topic: str) -> str | None:
    """The gate id in a `gatehouse/gate/<id>/...` topic, or None."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == ROOT and parts[1] == "gate" and GATE_ID.match(parts[2]):
        return parts[2]
    return None


# The compound's district link (gatehouse/district_wire.py, docs/district.md). The hub
# publishes under hub/district/ on its own broker; the bridge (`hub broker bridge`)
# carries that up as district/<compound>/gatehouse/hub/district/..., and carries the
# district's district/<compound>/down/... back here as gatehouse/district/...
HUB_DISTRICT_FEED = f"{ROOT}/hub/district/feed"        # FeedBatch, QoS 1
HUB_DISTRICT_STATUS = f"{ROOT}/hub/district/status"    # CompoundStatus, QoS 1
HUB_DISTRICT_REPORTS = f"{ROOT}/hub/district/reports"  # OrderReport, QoS 1
DISTRICT_ACK = f"{ROOT}/district/ack"                  # FeedAck (from the district)
DISTRICT_ORDERS = f"{ROOT}/district/orders"            # OrderList (from the district)
