"""The daily report (日报) page, its .xlsx, and the 7- and 30-day charts (docs/admin.md)."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, render_template, request

from gatehouse import days
from gatehouse.xlsx_write import Table
from hub import report
from hub.users import Perm
from hub.web import chart, core, downloads

bp = Blueprint("report", __name__, url_prefix="/report")
CHART_DAYS = (7, 30)


def _day() -> date:
    """?day=2026-11-23, else the compound's today."""
    text = request.args.get("day", "").strip()
    if not text:
        return days.local_date(core.now(), core.zone())
    try:
        day = date.fromisoformat(text)
    except ValueError:
        abort(400, "日期格式应为 2026-11-23 / the day is written 2026-11-23")
    if not 2000 <= day.year <= 2100:   # the calendar's ends overflow a day's bounds
        abort(400, "日期应在2000–2100年之间 / a day between 2000 and 2100")
    return day


def _gate_names() -> dict[str, str]:
    names = {g["id"]: g["name"] or g["id"] for g in core.db().query("select id, name from gates")}
    return {**names, "": "—", report.DOOR_RUNS: "送货上门 Door runs"}


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    day = _day()
    r = report.build(core.db(), day, core.zone())
    return render_template("report.html", r=r, columns=report.COLUMNS,
                           headings=report.HEADINGS, gate_names=_gate_names(),
                           prev=day - timedelta(days=1), next=day + timedelta(days=1),
                           today=days.local_date(core.now(), core.zone()),
                           made=core.local(core.now()))


@bp.route("/day.xlsx")
@core.require(Perm.VIEW)
def day_xlsx():
    day = _day()
    r = report.build(core.db(), day, core.zone())
    names = _gate_names()
    heads = [report.HEADINGS[k] for k in report.COLUMNS]
    summary = [{"what": report.HEADINGS[k], "count": r.totals[k]} for k in report.COLUMNS]
    summary += [{"what": f"转人工后 after referral: {k}", "count": n}
                for k, n in r.referral_outcomes.items()]
    summary += [{"what": f"快递 parcels: {k}", "count": n} for k, n in r.parcels.items()]
    tables = [
        Table(f"日报 {day.isoformat()}", ["what", "count"], summary,
                   headers=[f"{day.isoformat()} 日报 Daily report", "数量 Count"],
                   text_fields=frozenset({"what"}), widths={"what": 40}),
        Table("门岗 Gates", ["gate", "name", *report.COLUMNS],
                   [{**g, "name": names.get(g["gate"], g["gate"])} for g in r.per_gate],
                   headers=["门岗 Gate", "名称 Name", *heads],
                   text_fields=frozenset({"gate", "name"})),
        Table("楼栋 Buildings", ["building", *report.COLUMNS],
                   [{**b, "building": b["building"] or "—"} for b in r.per_building],
                   headers=["楼栋 Building", *heads], text_fields=frozenset({"building"})),
        Table("拒绝原因 Refusals", ["reason", "label", "count"], r.refusal_reasons,
                   headers=["原因 Reason", "说明 Label", "次数 Count"],
                   text_fields=frozenset({"reason", "label"}), widths={"label": 30}),
        Table("告警 Alerts", ["kind", "label", "count"], r.alert_kinds,
                   headers=["类别 Kind", "说明 Label", "次数 Count"],
                   text_fields=frozenset({"kind", "label"}), widths={"label": 40}),
    ]
    return downloads.xlsx_file(tables, f"daily-report-{day.isoformat()}.xlsx")


@bp.route("/chart.svg")
@core.require(Perm.VIEW)
def chart_svg():
    """The last 7 or 30 days up to ?day (default today), one group of bars a day."""
    try:
        days = int(request.args.get("days", "7"))
    except ValueError:
        days = 0
    if days not in CHART_DAYS:
        abort(400, "days: 7 或 30 / 7 or 30")
    per_day = report.daily_totals(core.db(), _day(), days, core.zone())
    return Response(chart.daily(per_day), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-store"})
