"""The gate policy: view, edit with validation, and a what-if over the last day first."""
from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from pydantic import ValidationError

from gatehouse.policy.diff import diff
from gatehouse.policy.model import Policy
from hub import policy_versions, whatif
from hub.users import Perm
from hub.web import core

bp = Blueprint("policy", __name__, url_prefix="/policy")


def _errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()]


@bp.route("/")
@core.require(Perm.VIEW)
def index():
    db = core.db()
    current = policy_versions.current_policy(db)
    versions = list(db.query("select version, created_at, actor, note from policies "
                             "order by version desc limit 30"))
    return render_template("policy.html", current=current, versions=versions,
                           text=json.dumps(current.to_json(), ensure_ascii=False, indent=2))


@bp.route("/check", methods=["POST"])
@core.require(Perm.POLICY)
def check():
    """Validate, show the changes and the what-if; saving needs a second, confirmed POST."""
    db, now = core.db(), core.now()
    text, note = request.form.get("doc", ""), request.form.get("note", "").strip()[:300]
    current = policy_versions.current_policy(db)
    try:
        new = Policy.from_json({**json.loads(text), "version": current.version})
    except json.JSONDecodeError as exc:
        return _bad(current, text, [f"JSON: {exc}"])
    except ValidationError as exc:
        return _bad(current, text, _errors(exc))
    changes = diff(current, new)
    if request.form.get("confirmed") == "yes" and changes:
        saved = core.compound().set_policy(new, int(now), core.user(), note)
        core.record("policy.save", saved.version, current.to_json(), saved.to_json())
        flash(f"策略已保存为第{saved.version}版，已发送到各门岗 / Policy v{saved.version} "
              "saved and sent to every gate", "ok")
        return redirect(url_for("policy.index"))
    looked, diffs = whatif.compare(db, current, new, now - 86400, now)
    return render_template("policy_check.html", current=current, changes=changes, text=text,
                           note=note, looked=looked, diffs=diffs,
                           approx=sum(d.approximate for d in diffs))


def _bad(current: Policy, text: str, errors: list[str]):
    return render_template("policy.html", current=current, versions=[], text=text,
                           errors=errors), 422
