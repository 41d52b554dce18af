"""Passes from the resident list: issue, print (a page of cards), revoke, reissue."""
from __future__ import annotations

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from hub import residents as people
from hub.compound import HubError
from hub.users import Perm
from hub.web import core

bp = Blueprint("passes", __name__, url_prefix="/passes")


@bp.route("/issue/<int:rid>", methods=["POST"])
@core.require(Perm.PASSES)
def issue(rid: int):
    """Issue (or, with reissue, revoke the current one and issue anew)."""
    c, at = core.compound(), int(core.now())
    r = people.get(c.db, rid)
    if r is None:
        abort(404)
    old = people.current_pass(c.db, r["person_ref"], r["household"], at)
    try:
        if old and request.form.get("reissue") != "yes":
            raise HubError("已有有效出入证，请用“补办” / a valid pass exists: use reissue")
        pass_id = people.issue(c, rid, request.form.get("id_number", ""), at)
        if old:
            c.revoke(old, at, f"reissued as {pass_id}")
        else:
            c.publish(at)
    except HubError as exc:
        flash(str(exc), "error")
        return redirect(url_for("residents.index", q=r["household"]))
    core.record("pass.reissue" if old else "pass.issue", pass_id,
                {"pass": old} if old else None, {"pass": pass_id, "resident": rid})
    flash(f"已签发出入证 Pass issued: {pass_id}", "ok")
    return redirect(url_for("passes.print_cards", ids=pass_id))


@bp.route("/revoke/<pass_id>", methods=["POST"])
@core.require(Perm.PASSES)
def revoke(pass_id: str):
    c = core.compound()
    note = request.form.get("note", "").strip()[:200]
    try:
        c.revoke(pass_id, int(core.now()), note)   # publishes: every gate has it at once
    except HubError as exc:
        abort(404, str(exc))
    core.record("pass.revoke", pass_id, {"revoked": False}, {"revoked": True, "note": note})
    flash(f"出入证已注销，已发送到各门岗 / Pass {pass_id} revoked; sent to every gate", "ok")
    return redirect(request.referrer or url_for("residents.index"))


@bp.route("/print")
@core.require(Perm.PASSES)
def print_cards():
    """Cards with QR for the given pass ids, or every valid pass of a building."""
    db, at = core.db(), int(core.now())
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    building = request.args.get("building", "")
    sql = ("select t.pass_id, t.text, c.name, c.household, c.expires_at from pass_texts t "
           "join issued_codes c on c.id = t.pass_id where c.revoked_at is null "
           "and c.expires_at > ?")
    args: list = [at]
    if ids:
        sql += f" and t.pass_id in ({','.join('?' * len(ids))})"
        args += ids
    elif building:
        sql += " and c.building = ?"
        args.append(building)
    else:
        abort(400, "请选择出入证或楼号 / choose passes or a building")
    cards = []
    for r in db.query(sql + " order by c.household", args):
        qr = segno.make(r["text"], error="m", boost_error=False)
        cards.append({**r, "svg": qr.svg_data_uri(scale=4, border=2)})
    core.record("pass.print", ",".join(c["pass_id"] for c in cards)[:500])
    return render_template("passes_print.html", cards=cards, compound=core.compound().name)
