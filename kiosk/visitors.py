"""Walk-in visitors (访客登记), registered by a signed-in volunteer at any kiosk: only the
masked name (王*明) and phone (138****1234) are kept and sent; the hub files the visitor
for 4 hours."""
from __future__ import annotations

from gatehouse.event_payloads import VisitorPayload
from gatehouse.events import EventKind
from gatehouse.privacy import mask_name, mask_phone
from kiosk.attempt_log import AttemptLog


def register_visitor(log: AttemptLog, now: float, volunteer: str, name: str, phone: str,
                     host: str, purpose: str) -> str:
    """Log the visitor (outbox included); returns the event's id."""
    return log.log_event(EventKind.VISITOR, now, VisitorPayload(
        name=mask_name(name), phone=mask_phone(phone), host_household=host,
        purpose=purpose[:60], by=volunteer))
