"""Sign-in, sign-out, the password, and the guards every request passes: session, CSRF,
security headers (the hub's admin page's rules, docs/security.md)."""
from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from district.web import accounts, core
from district.web.accounts import ROLE_LABELS, Perm, Role
from gatehouse import web_guards
from gatehouse.signin import DEVICE_DAYS

bp = Blueprint("auth", __name__)
OPEN_ENDPOINTS = {"auth.login", "static"}
DEVICE_COOKIE = "district_device"    # a browser that signed in before (gatehouse/signin.py)
DEVICE_NAMES = 8
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def csrf_token() -> str:
    return web_guards.csrf_token(session)


def _guard():
    if request.method not in SAFE_METHODS:
        web_guards.refuse_without_csrf(request, session)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    name = session.get("user")
    u = accounts.get_user(core.db(), name) if name else None
    if u is None or u.disabled or u.session_gen != session.get("gen"):
        if name:                          # a session that is no longer valid ends here
            session.clear()
        if request.path.startswith("/api/"):
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path))
    session["role"] = u.role.value
    return None


def _headers(resp):
    # Pages and downloads hold personal data: none is kept by the browser.
    return web_guards.secure_headers(resp, no_store=resp.mimetype != "text/css")


def _context() -> dict:
    return {"csrf_token": csrf_token, "me": core.user(), "my_role": core.role(),
            "can": lambda p: core.allowed(Perm(p)), "local": core.local,
            "role_labels": ROLE_LABELS, "Role": Role}


def _error(exc):
    code = getattr(exc, "code", 500)
    return render_template("error.html", code=code,
                           message=getattr(exc, "description", "")), code


def install(app) -> None:
    app.before_request(_guard)
    app.after_request(_headers)
    app.teardown_appcontext(core.close)
    app.context_processor(_context)
    for code in (400, 401, 403, 404, 405, 413, 429):
        app.register_error_handler(code, _error)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html")
    name = request.form.get("username", "").strip()
    devices = _devices()
    attempt = accounts.sign_in(core.db(), name, request.form.get("password", ""),
                               request.remote_addr or "", core.now(), devices.get(name))
    if attempt.wait:
        flash(f"尝试次数过多，请{attempt.wait}秒后再试 / Too many attempts: try again in "
              f"{attempt.wait} s", "error")
        return render_template("login.html"), 429
    u = attempt.user
    if u is None:
        flash("用户名或密码不正确 / Wrong username or password", "error")
        return render_template("login.html"), 401
    session.clear()                       # a fresh session: no fixation
    session.permanent = True
    session.update(user=u.username, role=u.role.value, gen=u.session_gen,
                   csrf=secrets.token_urlsafe(32))
    target = request.args.get("next", "")
    # Only a path on this site: "//host" and "/\\host" are read by browsers as another site.
    if not target.startswith("/") or target[1:2] in ("/", "\\"):
        target = url_for("overview.index")
    resp = redirect(target)
    if u.username not in devices:
        devices = {u.username: secrets.token_hex(8), **devices}
        kept = dict(list(devices.items())[:DEVICE_NAMES])
        resp.set_cookie(DEVICE_COOKIE, _signer().dumps(kept),
                        max_age=DEVICE_DAYS * 86400, httponly=True, samesite="Strict",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return resp


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="district-device")


def _devices() -> dict[str, str]:
    """The names this browser signed in as before, each with its device id."""
    try:
        data = _signer().loads(request.cookies.get(DEVICE_COOKIE, ""),
                               max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


@bp.route("/logout", methods=["POST"])
def logout():
    core.record("logout", core.user())
    accounts.end_sessions(core.db(), core.user())   # a copied cookie ends too
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    if request.method == "POST":
        new = request.form.get("new", "")
        if not accounts.check_password(core.db(), core.user(), request.form.get("old", "")):
            flash("原密码不正确 / The current password is wrong", "error")
        elif new != request.form.get("again", ""):
            flash("两次输入的新密码不一致 / The new passwords differ", "error")
        else:
            try:
                accounts.set_password(core.db(), core.user(), new)
            except accounts.UserError as exc:
                flash(str(exc), "error")
            else:
                core.record("user.password", core.user())
                session.clear()
                flash("密码已修改，请重新登录 / Password changed: sign in again", "ok")
                return redirect(url_for("auth.login"))
    return render_template("password.html")
