"""Enrolling gates over HTTP (docs/deploy.md).

Two parts: `bp`, the admin page's "new gate" form that shows a one-time enrollment
QR (admins only, behind login); and `mount`, a small app under /enroll/ that a new
gate calls with the id derived from the code's token. That app has no session and
no CSRF token: the gate has neither, and the one-time code is its credential.
"""
from __future__ import annotations

import time

import segno
from flask import Blueprint, Flask, Response, flash, render_template_string, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from hub import enroll
from hub.compound import Compound, HubError
from hub.users import Perm
from hub.web import core

bp = Blueprint("enroll", __name__)

PAGE = """{% extends "base.html" %}
{% block title %}新门岗 Enroll a gate{% endblock %}
{% block main %}
<h1>登记新门岗 <small>Enroll a gate</small></h1>
<form method="post" class="card row" id="enroll-gate">
  <input type="hidden" name="csrf" value="{{ csrf_token() }}">
  <label>门岗编号 Gate id <input name="gate" required pattern="[A-Za-z0-9_.-]{1,40}" size="14"></label>
  <label>名称 Name <input name="name" maxlength="40" placeholder="北门 North gate"></label>
  <label>中心地址 Hub URL <input name="hub_url" value="{{ hub_url }}" size="28"></label>
  <button class="primary">生成登记码 Make code</button>
</form>
{% if qr %}
<div class="card" id="enroll-code">
  <p>在门岗上运行 <code>kiosk enroll --camera v4l2:0</code> 并对准此码；{{ minutes }} 分钟内有效，只能用一次。
  On the gate run <code>kiosk enroll --camera v4l2:0</code> and show it this code: valid
  {{ minutes }} minutes, once.</p>
  <img alt="enrollment QR" src="{{ qr }}" width="360" height="360">
  <p><small>或输入 or type: <code>{{ text }}</code></small></p>
</div>
{% endif %}
{% endblock %}"""


@bp.route("/gates/enroll", methods=["GET", "POST"])
@core.require(Perm.USERS)
def new_gate():
    hub_url = request.form.get("hub_url") or request.host_url.rstrip("/")
    qr = text = None
    if request.method == "POST":
        gate = request.form.get("gate", "").strip()
        try:
            code = enroll.create_code(core.compound(), gate, hub_url, int(core.now()),
                                      name=request.form.get("name") or None,
                                      actor=core.user() or "web")
        except HubError as exc:
            flash(str(exc), "error")
        else:
            core.record("gate.enroll_code", gate, None, {"hub_url": hub_url})
            text = code.text()
            qr = segno.make(text, error="m", boost_error=False).svg_data_uri(scale=6)
    return render_template_string(PAGE, hub_url=hub_url, qr=qr, text=text,
                                  minutes=enroll.DEFAULT_MINUTES)


def create_enroll_app(home) -> Flask:
    """The gates' side: POST /enroll/<token id> answers once with sealed credentials."""
    app = Flask(__name__)

    @app.post("/<tid>")
    def redeem(tid: str):
        compound = Compound.open(home)
        try:
            body = enroll.redeem(compound, tid, time.time(), request.remote_addr or "")
        except enroll.EnrollError as exc:
            return Response(str(exc) + "\n", exc.status, mimetype="text/plain")
        finally:
            compound.db.close()
        return Response(body, 200, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})
    return app


def mount(wsgi_app, config):
    """Put the gates' enrollment app at /enroll, beside (not behind) the admin page."""
    return DispatcherMiddleware(wsgi_app, {"/enroll": create_enroll_app(config.home)})
