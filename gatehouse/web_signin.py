"""Signing in to an office page, one set of rules for the hub's (hub/web) and the
district's (district/web) (docs/security.md): a CSRF token on every unsafe request, a
valid session on every page but the open ones, a fresh session at sign-in, a `next`
that stays on this site, a device cookie remembering the names a browser signed in as
(so someone guessing a name elsewhere does not slow it: gatehouse/signin.py), and the
password change. Each page supplies its own user store (the callables below).
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from enum import Enum
from typing import Protocol
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gatehouse import web_guards, web_roles
from gatehouse.signin import DEVICE_DAYS

OPEN_ENDPOINTS = frozenset({"auth.login", "static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEVICE_NAMES = 8                 # names remembered per browser (a shared office PC)
HOME_ENDPOINT = "overview.index"
ERROR_CODES = (400, 401, 403, 404, 405, 413, 429)


class Account(Protocol):
    username: str
    role: Enum
    session_gen: int
    disabled: bool


class Attempt(Protocol):
    user: Account | None         # signed in when set
    wait: int                    # seconds to wait before trying again


def csrf_token() -> str:
    return web_guards.csrf_token(session)


def guard(load: Callable[[str], Account | None],
          wants_401: Callable[[], bool]) -> Callable[[], ResponseReturnValue | None]:
    """The before_request of a page: CSRF on every unsafe method, then a session whose
    user still exists, is enabled and has not ended its sessions since (`session_gen`);
    else to the login (or 401 where `wants_401()`: scripts and streams)."""
    def check() -> ResponseReturnValue | None:
        if request.method not in SAFE_METHODS:
            web_guards.refuse_without_csrf(request, session)
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        name = session.get("user")
        u = load(name) if name else None
        if u is None or u.disabled or u.session_gen != session.get("gen"):
            if name:                      # a session that is no longer valid ends here
                session.clear()
            if wants_401():
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path))
        session["role"] = u.role.value    # a changed role takes effect at once
        return None
    return check


def install(app, load: Callable[[str], Account | None], wants_401: Callable[[], bool],
            headers: Callable, context: Callable[[], dict], close: Callable) -> None:
    """The guard, the page's headers, its template context, its teardown, and the error
    pages, on `app`."""
    app.before_request(guard(load, wants_401))
    app.after_request(headers)
    app.teardown_appcontext(close)
    app.context_processor(context)
    for code in ERROR_CODES:
        app.register_error_handler(code, error_page)


def page_context(allowed: Callable[[Enum], bool], perm: type[Enum], local: Callable,
                 role_labels: dict, role: type[Enum]) -> dict:
    """What every template of a page may use: the CSRF token, who is signed in, `can`."""
    return {"csrf_token": csrf_token, "me": web_roles.user(), "my_role": web_roles.role(),
            "can": lambda p: allowed(perm(p)), "local": local, "role_labels": role_labels,
            "Role": role}


def error_page(exc) -> ResponseReturnValue:
    code = getattr(exc, "code", 500)
    return render_template("error.html", code=code,
                           message=getattr(exc, "description", "")), code


class DeviceCookie:
    """The signed cookie of the names this browser signed in as, each with a device id."""

    def __init__(self, name: str, salt: str):
        self.name, self.salt = name, salt

    def _signer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.secret_key, salt=self.salt)

    def read(self) -> dict[str, str]:
        try:
            data = self._signer().loads(request.cookies.get(self.name, ""),
                                        max_age=DEVICE_DAYS * 86400)
        except BadSignature:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def remember(self, resp, devices: dict[str, str], username: str) -> None:
        """From now on this browser is known for `username` (newest first, a few kept)."""
        if username in devices:
            return
        kept = dict(list({username: secrets.token_hex(8), **devices}.items())[:DEVICE_NAMES])
        resp.set_cookie(self.name, self._signer().dumps(kept), max_age=DEVICE_DAYS * 86400,
                        httponly=True, samesite="Strict",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


def wait_message(wait: int) -> str:
    zh, en = (f"{wait}秒", f"{wait} s") if wait < 120 else \
        (f"{(wait + 59) // 60}分钟", f"{(wait + 59) // 60} min")
    return f"尝试次数过多，请{zh}后再试 / Too many attempts: try again in {en}"


def login(sign_in: Callable[[str, str, str, str | None], Attempt], devices: DeviceCookie,
          record: Callable[[str, str], None]) -> ResponseReturnValue:
    """The login form and its POST: `sign_in(name, password, ip, device id)` applies the
    page's throttling and checks the password; `record(action, target)` audits."""
    if request.method == "GET":
        return render_template("login.html")
    name = request.form.get("username", "").strip()
    known = devices.read()
    attempt = sign_in(name, request.form.get("password", ""), request.remote_addr or "",
                      known.get(name))
    if attempt.wait:
        flash(wait_message(attempt.wait), "error")
        return render_template("login.html"), 429
    u = attempt.user
    if u is None:
        flash("用户名或密码不正确 / Wrong username or password", "error")
        return render_template("login.html"), 401
    session.clear()                       # a fresh session: no fixation
    session.permanent = True
    session.update(user=u.username, role=u.role.value, gen=u.session_gen,
                   csrf=secrets.token_urlsafe(32))
    record("login", u.username)
    resp = redirect(next_path())
    devices.remember(resp, known, u.username)
    return resp


def next_path() -> str:
    """Where the login goes on: `next` if it is a path on this site ("//host" and
    "/\\host" are read by browsers as another site), else the overview."""
    target = request.args.get("next", "")
    # Browsers and werkzeug drop tabs and newlines from a URL: "/\t/evil" became
    # "//evil" in the Location (review R1, session 6), and a newline was a 500 (R2). No
    # control character, no backslash anywhere, and nothing that names a host.
    if (not target.startswith("/") or target.startswith("//")
            or any(c < " " or c in "\\\x7f" for c in target)
            or urlsplit(target).netloc):
        return url_for(HOME_ENDPOINT)
    return target


def change_password(sign_in: Callable[[str, str, str, str | None], Attempt],
                    devices: DeviceCookie, set_new: Callable[[str], None],
                    refused: type[Exception],
                    record: Callable[[str, str], None], user: str) -> ResponseReturnValue:
    """The password form: the current one checked by the page's own sign-in, so guesses
    from a session left open are throttled and recorded as the login form's are (review
    R5, session 6), then the new one twice; `set_new` raises `refused` with the reason
    (too short...). A change ends every session (set_new moves the session generation
    on), this one too."""
    if request.method == "POST":
        new = request.form.get("new", "")
        attempt = sign_in(user, request.form.get("old", ""), request.remote_addr or "",
                          devices.read().get(user))
        if attempt.wait:
            flash(wait_message(attempt.wait), "error")
            return render_template("password.html"), 429
        if attempt.user is None:
            flash("原密码不正确 / The current password is wrong", "error")
        elif new != request.form.get("again", ""):
            flash("两次输入的新密码不一致 / The new passwords differ", "error")
        else:
            try:
                set_new(new)
            except refused as exc:
                flash(str(exc), "error")
            else:
                record("user.password", user)
                session.clear()
                flash("密码已修改，请重新登录 / Password changed: sign in again", "ok")
                return redirect(url_for("auth.login"))
    return render_template("password.html")
