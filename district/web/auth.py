"""Sign-in, sign-out, the password, and the guards every request passes: session, CSRF,
security headers (the hub's admin page's rules: gatehouse/web_signin.py,
docs/security.md)."""
from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for

from district.web import accounts, core
from district.web.accounts import ROLE_LABELS, Perm, Role
from gatehouse import web_guards, web_signin

bp = Blueprint("auth", __name__)
# A browser that signed in before (gatehouse/signin.py).
DEVICES = web_signin.DeviceCookie("district_device", salt="district-device")


def _headers(resp):
    # Pages and downloads hold personal data: none is kept by the browser.
    return web_guards.secure_headers(resp, no_store=resp.mimetype != "text/css")


def _context() -> dict:
    return web_signin.page_context(core.allowed, Perm, core.local, ROLE_LABELS, Role)


def install(app) -> None:
    web_signin.install(app, lambda name: accounts.get_user(core.db(), name),
                       lambda: request.path.startswith("/api/"), _headers, _context,
                       core.close)


def _sign_in(name: str, password: str, ip: str, device: str | None) -> accounts.Attempt:
    """The page's throttled sign-in (the login form, and the current password when
    changing it)."""
    return accounts.sign_in(core.db(), name, password, ip, core.now(), device)


@bp.route("/login", methods=["GET", "POST"])
def login():
    return web_signin.login(_sign_in, DEVICES, core.record)


@bp.route("/logout", methods=["POST"])
def logout():
    core.record("logout", core.user())
    accounts.end_sessions(core.db(), core.user())   # a copied cookie ends too
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    me = core.user()
    return web_signin.change_password(_sign_in, DEVICES,
                                      lambda new: accounts.set_password(core.db(), me, new),
                                      accounts.UserError, core.record, me)
