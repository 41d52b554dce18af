"""Group purchases (团购): the leader's order list → preview → one parcel per household,
and printable per-building pick lists (docs/admin.md, "Group purchases")."""
from __future__ import annotations

import base64
import binascii

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from gatehouse.privacy import mask_name
from hub.parcels import groupbuy as gb
from hub.parcels.states import ParcelError
from hub.users import Perm
from hub.web import core

bp = Blueprint("groupbuy", __name__, url_prefix="/groupbuy")


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    return render_template("groupbuy.html", batches=gb.batches(core.db()), parsed=None,
                           form={})


@bp.route("/import", methods=["POST"])
@core.require(Perm.PARCELS)
def import_orders():
    data, filename = _upload()
    form = {k: request.form.get(k, "").strip()
            for k in ("title", "leader", "leader_phone", "default_item")}
    form.update(fresh=request.form.get("fresh") == "on", again=request.form.get("again") == "on",
                text=request.form.get("text", "") if not filename else "")
    db = core.db()
    known = {r["household"] for r in db.query("select distinct household from residents")}
    parsed = gb.parse(data, filename, known or None, form["default_item"] or None)
    if not known:
        parsed.notices.insert(0, "居民名单为空，未核对户号 the residents list is empty: "
                                 "households were not checked")
    form["title"] = form["title"] or parsed.title
    problems = [] if form["leader"] else ["请填写团长 the group leader is required"]
    phone = "".join(ch for ch in form["leader_phone"] if ch.isdigit())
    if form["leader_phone"] and not 7 <= len(phone) <= 15:
        problems.append("团长电话格式不对 the leader's phone is not a phone number")
    if not parsed.orders and not parsed.errors:
        problems.append("没有找到订单 no orders found")
    repeat = gb.find_repeat(db, parsed.orders) if parsed.orders else None
    if request.form.get("confirmed") == "yes" and parsed.ok and not problems:
        try:
            batch = gb.import_batch(db, title=form["title"], leader=form["leader"],
                                    leader_phone=phone,
                                    orders=parsed.orders, at=core.now(), actor=core.user(),
                                    fresh=form["fresh"], source=parsed.source,
                                    again=form["again"])
        except (gb.GroupBuyError, ParcelError) as exc:
            problems.append(f"没有导入任何数据 Nothing imported: {exc}")
        else:
            pieces = sum(o.pieces for o in parsed.orders)
            core.record("groupbuy.import", batch, None,
                        {"title": form["title"], "leader": form["leader"],
                         "source": parsed.source, "households": len(parsed.orders),
                         "pieces": pieces, "fresh": form["fresh"]})
            flash(f"已导入：{len(parsed.orders)}户，{pieces}件 / Imported: "
                  f"{len(parsed.orders)} households, {pieces} pieces", "ok")
            return redirect(url_for("groupbuy.batch", batch=batch))
    status = 200 if parsed.ok and not problems else 422
    return render_template(
        "groupbuy.html", batches=gb.batches(db), parsed=parsed, form=form, problems=problems,
        repeat=repeat, filename=filename, data_b64=base64.b64encode(data).decode(),
        counts=_counts(gb.pick_lists(parsed.orders)),
        preview=[_row(o) for o in parsed.orders]), status


@bp.route("/<batch>")
@core.require(Perm.VIEW)
def batch(batch: str):
    db = core.db()
    b = gb.get_batch(db, batch)
    if b is None:
        abort(404)
    rows = gb.batch_orders(db, batch)
    info = {o.household: i for o, i in rows}
    lists = gb.pick_lists([o for o, _ in rows])
    only = request.args.get("building", "")
    if only:
        lists = {k: v for k, v in lists.items() if k == only}
    sections = [{"building": k, "rows": [{**_row(o), **info[o.household]} for o in v],
                 "totals": _totals(v)} for k, v in lists.items()]
    return render_template("groupbuy_batch.html", b=b, sections=sections, only=only,
                           buildings=list(gb.pick_lists([o for o, _ in rows])))


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.read(), upload.filename
    if request.form.get("data_b64"):
        try:
            return (base64.b64decode(request.form["data_b64"], validate=True),
                    request.form.get("filename", ""))
        except (binascii.Error, ValueError):
            abort(400, "数据已损坏，请重新上传 / the data was damaged: upload again")
    text = request.form.get("text", "")
    if not text.strip():
        abort(400, "请上传文件或粘贴接龙 / upload a file or paste the chain")
    return text.encode("utf-8"), ""


def _row(o: gb.Order) -> dict:
    """An order as the screen shows it: name and phone masked."""
    return {"line": o.line, "lines": o.lines, "household": o.household,
            "name": mask_name(o.name), "phone": gb.masked_phone(o.phone),
            "item_text": o.item_text, "pieces": o.pieces, "note": o.note}


def _counts(lists: dict[str, list[gb.Order]]) -> list[dict]:
    return [{"building": k, "households": len(v), "pieces": sum(o.pieces for o in v)}
            for k, v in lists.items()]


def _totals(orders: list[gb.Order]) -> str:
    """What the volunteers take from the bulk load for one building."""
    sums: dict[str, int] = {}
    for o in orders:
        for n, q in o.items:
            sums[n] = sums.get(n, 0) + q
    return "，".join(f"{n}×{q}" for n, q in sums.items())
