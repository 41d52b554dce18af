"""Login, logout and the guards every request passes: session, CSRF, headers (the
rules are the district page's too: gatehouse/web_signin.py)."""
from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for

from gatehouse import web_guards, web_signin
from hub import logins, users
from hub.users import ROLE_LABELS, Perm, Role
from hub.web import core

bp = Blueprint("auth", __name__)
# hub/logins.py: a browser that signed in before is not slowed by a guesser elsewhere.
DEVICES = web_signin.DeviceCookie("gatehouse_device", salt="gatehouse-device")


def _api() -> bool:
    return request.path.startswith("/api/") or \
        request.accept_mimetypes.best == "text/event-stream"


def _headers(resp):
    return web_guards.secure_headers(
        resp, no_store=resp.mimetype in ("text/html", "text/csv", "application/json"))


def _context() -> dict:
    return web_signin.page_context(core.allowed, Perm, core.local, ROLE_LABELS, Role)


def install(app) -> None:
    web_signin.install(app, lambda name: users.get_user(core.db(), name), _api, _headers,
                       _context, core.close)


def _sign_in(name: str, password: str, ip: str, device: str | None) -> logins.Attempt:
    """The page's throttled sign-in (the login form, and the current password when
    changing it)."""
    return logins.sign_in(core.db(), name, password, ip, core.now(), device)


@bp.route("/login", methods=["GET", "POST"])
def login():
    return web_signin.login(_sign_in, DEVICES, core.record)


@bp.route("/logout", methods=["POST"])
def logout():
    core.record("logout", core.user())
    # The cookie is signed, not stored: a copy of it would outlive session.clear().
    # Moving the session generation on ends every session of this user, copies too.
    users.end_sessions(core.db(), core.user())
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    me = core.user()
    return web_signin.change_password(_sign_in, DEVICES,
                                      lambda new: users.set_password(core.db(), me, new),
                                      users.UserError, core.record, me)
