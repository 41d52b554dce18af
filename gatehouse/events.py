"""The events a gate sends the hub: one schema both sides import (docs/mqtt.md)."""
from __future__ import annotations

from enum import Enum


class EventKind(str, Enum):
    ATTEMPT = "attempt"              # a decided attempt (admit / refer / refuse)
    OVERRIDE = "override"            # a volunteer admitted a referred attempt
    EXIT_REQUEST = "exit_request"    # the exit button opened the door from inside
    DOOR_FORCED = "door_forced"      # the door opened while locked
    DOOR_HELD = "door_held"          # the door stayed open too long after an admit
    STARTED = "started"              # the gate loop started (relay state recorded)
    STOPPED = "stopped"              # the gate loop stopped cleanly
