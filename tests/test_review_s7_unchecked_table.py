"""H7-7 (Low): a handler table that was never checked is taken as it is: HubSync and
ingest (and reapply) accept any EventHandlers, and EventHandlers.apply returns 0 for a
kind nobody registered. The start check (`check()`) is only in hub/features.py's
`event_handlers()`; a process that builds its own table (a bench, a tool, a future
`hub` command, a test) drops a kind's effects silently while storing and
acknowledging its events: here a forced door, stored and acknowledged, no alert. The
docstring of hub/event_handlers.py promises "never silently dropped at the first
event". Both production roots (app_serve, cli_gates) do call event_handlers(): Low.

Failed at 25c1833, before the fix (stored, acknowledged, no alert).
"""
from __future__ import annotations

import time
import uuid

from gatehouse import topics
from gatehouse.events import Event, EventBatch, dump
from hub.event_handlers import EventHandlers
from hub.ingest import Incoming, ingest
from hub.parcels import gate_events as parcels


def test_an_unchecked_table_drops_a_kinds_effects_silently(compound):
    compound.db["gates"].insert({"id": "north", "name": "north"})
    handlers = EventHandlers()
    parcels.register(handlers)              # the core's register forgotten, not checked
    now = time.time()
    forced = Event(seq=1, id=uuid.uuid4().hex, kind="door_forced", at=now, payload={})
    msg = Incoming(topics.gate_events("north"),
                   dump(EventBatch(gate="north", sent_at=now, events=[forced])), now)
    try:
        r = ingest(compound.db, [msg], compound.build_bundle(1, int(now)).policy, handlers)
    except ValueError:
        return                              # refused: what the docstring promises
    alerts = compound.db.execute("select count(*) from alerts").fetchone()[0]
    print(f"\nstored {r.stored}, acknowledged {r.acks}, alerts {alerts}")
    assert alerts == 1 or not r.acks
