"""The north gate's volunteer during the demo courier's drop-off: reads each label's
address and keys its room on the screen before the label is scanned, as a volunteer
does for a courier with a bag of parcels (the room stays set for the next scans). Without
it every drop-off would reach the hub as "unknown recipient"."""
from __future__ import annotations

import http.client
import logging

from demo.screen_client import Screen

log = logging.getLogger(__name__)


class CourierDesk:
    def __init__(self, port: int, pin: str, rooms: list[str]):
        self.screen, self.pin, self.rooms = Screen(port), pin, rooms
        self.keyed_for: int | None = None      # the parcel count when the room was keyed
        self.signed_in = False

    def step(self) -> None:
        """One look at the screen; key the next room when a parcel was just recorded.
        Never raises: the demo goes on if the screen is restarting."""
        try:
            self._step()
        except (OSError, ValueError, RuntimeError, http.client.HTTPException) as exc:
            log.debug("courier desk: %s", exc)    # (the screen is not up yet, or restarts)
            self.screen.close()
            self.screen.token, self.signed_in = "", False

    def _step(self) -> None:
        if not self.screen.token:
            self.screen.open(timeout=1)
        state = self.screen.state()
        courier = state.get("courier")
        if state.get("mode") != "courier" or not courier:
            self.keyed_for = None
            return
        count = int(courier.get("count", 0))
        if count == self.keyed_for:
            return
        if not self.signed_in:
            lead = next((v for v in state.get("volunteers", []) if v.get("role") == "lead"),
                        None)
            if lead is None:
                return
            status, _ = self.screen.post("/api/signin", {"volunteer": lead["id"],
                                                         "pin": self.pin})
            self.signed_in = status == 200
        room = self.rooms[count % len(self.rooms)]
        status, _ = self.screen.post("/api/courier", {"room": room})
        if status == 200:
            self.keyed_for = count
        elif status == 401:
            self.signed_in = False
