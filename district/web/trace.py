"""Tracing (流调) across compounds: a person's timeline and who was near them, masked,
every look-up and export one audit row (who, which person reference, when, from where).

An ID number typed into the form becomes a reference at once (with the district's copy
of the binding key) and the page redirects to the reference, so the number stays in no
URL, history or log. Contacts are shown by a short reference; tracing one of them in
turn goes by their event (`via`), and whole references are an admin's audited unmask.

An observer (the health authority) sees no whole reference at all, not even of the
person it traces (typed, from an ID number or followed from a contact): the page shows a
short one, and its links and form name the person by their latest event (`via`).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from district import tracing
from district.web import core, downloads
from district.web.accounts import Perm

bp = Blueprint("trace", __name__)


def _window() -> tracing.Window:
    return tracing.Window.last_days(core.now(), _number("days", tracing.TRACE_DAYS),
                                    core.config().retention_days)


def _number(name: str, default: int) -> int:
    try:
        return int(request.values.get(name, default))
    except ValueError:
        abort(400, f"{name}: not a number")


def _ref() -> str | None:
    """The person asked about: `who` (a reference or ID number typed) or else `via`
    (compound/event id: a contact followed, or an observer's person)."""
    who = request.values.get("who", "").strip()
    if who:
        try:
            return tracing.ref_of(who, core.config().binding_key())
        except ValueError as exc:
            abort(400, f"无法识别 cannot tell who: {exc}")
    via = request.values.get("via", "")
    if not via:
        return None
    compound, _, event_id = via.partition("/")
    ref = tracing.ref_of_event(core.db(), compound, event_id, _window())
    if ref is None:
        abort(404, "没有这条记录 no such event in the window")
    return ref


def _whole() -> bool:
    """Whole references on the page: an admin's; an observer's are short."""
    return core.allowed(Perm.UNMASK)


def _person(ref: str, rows: list[dict]) -> dict[str, str]:
    """How the page's links and form name the person: an admin by reference, an observer
    by their latest event in the window (inside any shorter window too); {} when it has
    none (nothing to link to)."""
    if _whole():
        return {"who": ref}
    if not rows:
        return {}
    return {"via": f"{rows[-1]['compound']}/{rows[-1]['event_id']}"}


def _look_up(ref: str) -> tuple[list[dict], list[dict], int]:
    minutes = min(max(_number("minutes", 15), 1), tracing.MAX_MINUTES)
    window = _window()
    return (tracing.timeline(core.db(), ref, window),
            tracing.co_presence(core.db(), ref, window, minutes), minutes)


@bp.route("/tracing")
@core.require(Perm.TRACE)
def index():
    who = request.args.get("who", "").strip()
    if who and not tracing.REF.match(who.lower()):
        # An ID number: to its reference (an observer's: to the person's latest event),
        # and off the URL.
        ref = _ref()
        person = _person(ref, [] if _whole() else
                         tracing.timeline(core.db(), ref, _window()))
        if not person:
            core.record("trace.view", ref, {"days": _number("days", tracing.TRACE_DAYS),
                                            "events": 0})
            flash("没有记录 no records of that person in these days", "error")
        return redirect(url_for("trace.index", **person, days=request.args.get("days"),
                                minutes=request.args.get("minutes")))
    return _page(unmask=False)


@bp.route("/tracing/unmask", methods=["POST"])
@core.require(Perm.UNMASK)
def unmask():
    return _page(unmask=True)


def _page(unmask: bool):
    ref = _ref()
    if ref is None:
        return render_template("tracing.html", ref=None, days=tracing.TRACE_DAYS, minutes=15)
    rows, contacts, minutes = _look_up(ref)
    core.record("trace.unmask" if unmask else "trace.view", ref,
                {"days": _number("days", tracing.TRACE_DAYS), "minutes": minutes,
                 "events": len(rows), "contacts": len(contacts)})
    if unmask:
        rows, contacts = tracing.unmasked(rows), tracing.unmasked(contacts)
    return render_template("tracing.html", ref=ref, rows=rows, contacts=contacts,
                           whole=_whole(), shown=ref if _whole() else tracing.short_ref(ref),
                           person=_person(ref, rows),
                           unmasked=unmask, days=_number("days", tracing.TRACE_DAYS),
                           minutes=minutes, window=_window(),
                           compounds=sorted({r["compound"] for r in rows}),
                           max_rows=tracing.MAX_ROWS)


def _export() -> tuple[str, list[dict], list[dict]]:
    ref = _ref()
    if ref is None:
        abort(400, "请先指定人员 / say who first")
    rows, contacts, minutes = _look_up(ref)
    core.record("trace.export", ref, {"format": request.path.rsplit(".", 1)[-1],
                                      "days": _number("days", tracing.TRACE_DAYS),
                                      "minutes": minutes, "events": len(rows),
                                      "contacts": len(contacts)})
    return ref, rows, contacts


@bp.route("/tracing/export.csv")
@core.require(Perm.TRACE)
def export_csv():
    ref, rows, contacts = _export()
    if request.args.get("kind") == "contacts":
        return downloads.csv_file(contacts, tracing.CONTACT_FIELDS,
                                  f"contacts-{ref[:6]}.csv")
    return downloads.csv_file(rows, tracing.TIMELINE_FIELDS, f"timeline-{ref[:6]}.csv")


@bp.route("/tracing/export.xlsx")
@core.require(Perm.TRACE)
def export_xlsx():
    ref, rows, contacts = _export()
    return downloads.xlsx_file([("轨迹 Timeline", rows, tracing.TIMELINE_FIELDS),
                                ("密接 Co-presence", contacts, tracing.CONTACT_FIELDS)],
                               f"trace-{ref[:6]}.xlsx")
