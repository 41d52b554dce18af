"""Orders (the street office's): seal, control or reopen a building of a compound; push a
policy template to many compounds. Each order is made, signed and queued by
district/orders.py; this page shows each one's status and each compound's applied
versions (from its last status). Reading is everyone's, ordering the admin's."""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from district import orders
from district.web import core
from district.web.accounts import Perm
from gatehouse.district_wire import OrderKind

bp = Blueprint("orders", __name__)
BUILDING_KINDS = (OrderKind.SEAL, OrderKind.CONTROL, OrderKind.REOPEN)
MAX_POLICY_BYTES = 64 * 1024


@bp.route("/orders")
@core.require(Perm.VIEW)
def index():
    conn = core.db()
    recent = list(conn.execute(
        "select id, compound, seq, kind, building, issued_at, issued_by, note, status, "
        "reported_at, report->>'reason' as reason from orders order by id desc limit 200"))
    compounds = list(conn.execute(
        "select id, name, status->>'bundle_version' as bundle_version, "
        "status->>'policy_version' as policy_version, status->>'order_seq' as order_seq, "
        "(select max(seq) from orders o where o.compound = c.id) as last_seq, "
        "(select count(*) from orders o where o.compound = c.id and o.status = 'pending') "
        "as pending from compounds c where c.removed_at is null order by id"))
    return render_template("orders.html", orders=recent, compounds=compounds,
                           kinds=BUILDING_KINDS)


@bp.route("/orders/building", methods=["POST"])
@core.require(Perm.ORDERS)
def building():
    try:
        kind = OrderKind(request.form.get("kind", ""))
    except ValueError:
        abort(400, "kind: seal, control or reopen")
    if kind not in BUILDING_KINDS:
        abort(400, "kind: seal, control or reopen")
    compound = request.form.get("compound", "").strip()
    name = request.form.get("building", "").strip()
    made = _make([compound], kind, building=name or None)
    if made:
        flash(f"已下达 {compound} {name} {kind.value} (#{made[0].seq}) / order sent", "ok")
    return redirect(url_for("orders.index"))


@bp.route("/orders/policy", methods=["POST"])
@core.require(Perm.ORDERS)
def policy():
    text = request.form.get("policy", "")
    if len(text.encode()) > MAX_POLICY_BYTES:
        abort(413)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:   # deep nesting: RecursionError (D9)
        flash(f"策略不是有效的JSON / the policy is not JSON: {exc}", "error")
        return redirect(url_for("orders.index"))
    targets = request.form.getlist("compound")
    if not targets:
        flash("请选择社区 / choose at least one compound", "error")
        return redirect(url_for("orders.index"))
    made = _make(targets, OrderKind.POLICY, policy=doc if isinstance(doc, dict) else None,
                 template=request.form.get("template", "").strip()[:80] or None)
    if made:
        flash(f"策略已下达 {len(made)} 个社区 / policy sent to {len(made)} compounds", "ok")
    return redirect(url_for("orders.index"))


def _make(compounds: list[str], kind: OrderKind, building: str | None = None,
          policy: dict | None = None, template: str | None = None) -> list[orders.Made]:
    """Made, signed, queued and audited; a refused order is a message, not a 500."""
    cfg = core.config()
    known = {r["id"] for r in core.db().execute("select id from compounds where id = any(%s)",
                                                [compounds])}
    unknown = sorted(set(compounds) - known)
    if unknown:
        flash(f"未知社区 unknown compound: {', '.join(unknown)[:200]}", "error")
        return []
    note = request.form.get("note", "").strip()[:200]
    try:
        with core.tuple_rows() as conn:     # district/orders.py reads rows as tuples
            made = orders.create_many(conn, cfg.signing_key(), cfg.district_id, compounds,
                                      kind, core.user(), building=building, policy=policy,
                                      note=note, now=core.now(), template=template)
    except ValueError as exc:
        flash(f"命令被拒绝 order refused: {str(exc)[:300]}", "error")
        return []
    for m in made:
        core.record(f"order.{kind.value}", m.compound,
                    {"seq": m.seq, "id": m.id, "building": building, "note": note,
                     "template": template})
    return made
