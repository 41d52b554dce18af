"""How the compound is doing, as its district sees it (CompoundStatus): versions, the
last order applied, the feed's backlog, gates, buildings not normal, today's decisions
and the alerts still open. Counts only: no person in it."""
from __future__ import annotations

import sqlite_utils

from gatehouse.days import day_start
from gatehouse.district_wire import CompoundStatus
from gatehouse.policy.model import BuildingStatus
from hub import building_status, district_feed, district_silence, meta, policy_versions
from hub.district_orders import last_applied, versions

OUTCOMES = ("admit", "refer", "refuse")


def compound_status(db: sqlite_utils.Database, compound: str, at: float) -> CompoundStatus:
    v = versions(db)
    gates = db.execute("select count(*), coalesce(sum(online = 1), 0) from gates "
                       "where retired_at is null").fetchone()
    since = day_start(at, policy_versions.compound_zone(db))
    today = {o: 0 for o in OUTCOMES}
    for outcome, n in db.execute("select outcome, count(*) from passages where at >= ? "
                                 "group by outcome", [since]):
        if outcome in today:
            today[outcome] = n
    buildings = {b: s.value for b, s in sorted(building_status.building_statuses(db).items())
                 if s is not BuildingStatus.NORMAL}
    return CompoundStatus(
        compound=compound, name=(meta.get_meta(db, "compound", "") or "")[:80], at=at,
        bundle_version=v.bundle, policy_version=v.policy, order_seq=last_applied(db),
        feed_last=district_feed.last_cseq(db), backlog=district_feed.backlog(db),
        gates_online=min(gates[1], 10_000), gates_total=min(gates[0], 10_000),
        buildings=dict(list(buildings.items())[:2000]), today=today,
        alerts_open=db.execute("select count(*) from alerts where acked_at is null")
        .fetchone()[0],
        no_ack_since=_on_the_wire(district_silence.silent_since(db)))


def _on_the_wire(since: float | None) -> float | None:
    """A silence declared while the hub's clock was unset (a Pi before NTP: 1970) is
    not a time the wire takes: sent as unknown, or every status failed to build and the
    district saw the compound offline (review R6, session 6)."""
    bounds = CompoundStatus.model_fields["no_ack_since"].metadata
    low = next(m.ge for m in bounds if hasattr(m, "ge"))
    high = next(m.le for m in bounds if hasattr(m, "le"))
    return since if since is not None and low <= since <= high else None
