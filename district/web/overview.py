"""The overview (every compound at a glance, phone-friendly) and one compound's page."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, render_template

from district.web import core
from district.web.accounts import Perm
from gatehouse.privacy import at_most_two_letters, mask_household, mask_name

bp = Blueprint("overview", __name__)
ONLINE_S = 90                 # the contract: online while a status came within 90 s

# Gaps as district/ingest.py's `gaps` counts them: the holes in 1..last received.
_COMPOUNDS = """
select c.id, c.name, c.last_event_at, c.last_status_at, c.removed_at,
       coalesce(c.status, '{{}}'::jsonb) as status,
       coalesce(c.last_status_at > %(online_since)s, false) as online,
       coalesce(r.gaps, 0) as gaps, coalesce(r.missing, 0) as missing, r.received
from compounds c left join (
  select compound, count(*) filter (where first > coalesce(prev, 0) + 1) as gaps,
         max(last) - sum(last - first + 1) as missing, max(last) as received
  from (select compound, first, last,
               lag(last) over (partition by compound order by first) as prev
        from compound_ranges) ranges
  group by compound
) r on r.compound = c.id
{where}
order by c.id
"""

def _today() -> dict:
    start = datetime.fromtimestamp(core.now(), core.zone()).replace(hour=0, minute=0, second=0,
                                                                    microsecond=0)
    return {"start": start, "end": start + timedelta(days=1)}


def _compounds(compound: str | None = None) -> list[dict]:
    """Every compound (or one) with its link, gaps and last status. Today's counts are
    the compound's own (its status, every 30 s): counting the district's copy would scan
    a whole day partition per view (~0.7 s at a street's million events a day)."""
    where = "where c.id = %(id)s" if compound else ""
    rows = list(core.db().execute(_COMPOUNDS.format(where=where),
                                  {"online_since": core.ts(core.now() - ONLINE_S),
                                   "id": compound}))
    for r in rows:
        st = r["status"]
        buildings = st.get("buildings") or {}
        r["sealed"] = sorted(b for b, s in buildings.items() if s == "sealed")
        r["controlled"] = sorted(b for b, s in buildings.items() if s == "controlled")
        r["backlog"] = st.get("backlog", 0)
        # The compound's own word that no ack reaches it (its down path is broken).
        r["no_ack_since"] = st.get("no_ack_since")
        today = st.get("today") or {}
        r["today"] = {"admitted": today.get("admit", 0), "referred": today.get("refer", 0),
                      "refused": today.get("refuse", 0), "alerts": st.get("alerts_open", 0)}
    return rows


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    rows = _compounds()
    totals = {k: sum(r["today"][k] for r in rows)
              for k in ("admitted", "referred", "refused", "alerts")}
    return render_template("overview.html", compounds=rows, totals=totals,
                           online=sum(r["online"] for r in rows),
                           sealed=sum(len(r["sealed"]) for r in rows),
                           controlled=sum(len(r["controlled"]) for r in rows))


@bp.route("/compound/<cid>")
@core.require(Perm.VIEW)
def compound(cid: str):
    rows = _compounds(cid)
    if not rows:
        abort(404)
    conn, day = core.db(), _today()
    # One compound's day: a range of the (compound, gate, at) index, a few thousand rows.
    gates = list(conn.execute(
        "select gate, count(*) filter (where outcome = 'admit') as admitted, "
        "count(*) filter (where outcome = 'refer') as referred, "
        "count(*) filter (where outcome = 'refuse') as refused, max(at) as last_at "
        "from events where compound = %(id)s and at >= %(start)s and at < %(end)s "
        "group by gate order by gate", {"id": cid, **day}))
    # As tracing shows names: at most two letters (docs/security.md D10).
    alerts = [{**a, "name": at_most_two_letters(mask_name(a["name"])),
               "household": mask_household(a["household"])}
              for a in conn.execute(
        "select at, gate, building, kind, outcome, name, household, reasons from events "
        "where compound = %(id)s and alert and at >= %(start)s and at < %(end)s "
        "order by at desc limit 50", {"id": cid, **day})]
    holes = list(conn.execute(
        "select coalesce(prev, 0) + 1 as first, first - 1 as last from (select first, "
        "lag(last) over (order by first) as prev from compound_ranges where compound = %s) "
        "h where first > coalesce(prev, 0) + 1 order by first limit 50", [cid]))
    orders = list(conn.execute("select * from orders where compound = %s order by seq desc "
                               "limit 20", [cid]))
    return render_template("compound.html", c=rows[0], gates=gates, alerts=alerts,
                           holes=holes, orders=orders)
