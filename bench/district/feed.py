"""What a compound's hub sends up: FeedBatch messages of gate events in the compound's
own cseq order, built deterministically from (run, compound, cseq), so a batch sent
again is byte-for-byte the same events (ids included) and the district can be counted
against what was sent without keeping it."""
from __future__ import annotations

import hashlib
import json

from gatehouse.district_wire import FeedBatch

FEED_TOPIC = "district/{cid}/gatehouse/hub/district/feed"   # as the bridge remaps it
BUILDINGS = 12
# People of the street: 200 compounds of ~2,000 residents, each passing a gate ~2.5
# times a day (5,000 events a compound). Fewer people would give each one a timeline
# far longer than any resident's (20,000 people: ~650 events in 14 days).
PEOPLE = 400_000


def compound_id(i: int) -> str:
    return f"c{i:05d}"


def event(run: str, cid: str, cseq: int, day_start: float, day_seconds: float = 86_400) -> dict:
    h = hashlib.blake2b(f"{run}/{cid}/{cseq}".encode(), digest_size=32).digest()
    person = int.from_bytes(h[16:20], "big") % PEOPLE
    b = h[20] % BUILDINGS + 1
    return {
        "cseq": cseq, "id": h[:16].hex(), "gate": f"gate-{h[21] % 3 + 1}", "gate_seq": cseq,
        "kind": "entry", "at": round(day_start + (cseq * 7.3 + h[22]) % day_seconds, 3),
        "direction": "in" if h[23] % 2 else "out",
        "outcome": "admit" if h[24] % 50 else "refuse",
        "person_ref": hashlib.blake2b(str(person).encode(), digest_size=12).hexdigest(),
        "building": str(b), "household": f"{b}-{h[25] % 4 + 1}-**{h[26] % 10}",
        "name": "张*", "reasons": [] if h[24] % 50 else ["no_pass"], "alert": False,
    }


def batch(run: str, cid: str, first: int, count: int, sent_at: float, day_start: float) -> bytes:
    events = [event(run, cid, s, day_start) for s in range(first, first + count)]
    return json.dumps({"v": 1, "compound": cid, "sent_at": sent_at, "events": events},
                      separators=(",", ":")).encode()


def check_shape(run: str, day_start: float) -> None:
    """The generated batch is a valid FeedBatch (the wire the workers parse)."""
    FeedBatch.model_validate_json(batch(run, compound_id(0), 1, 3, day_start, day_start))
