"""The password form of both office pages (gatehouse/web_signin.change_password): the
current password is checked by the page's own throttled sign-in, so someone at a
browser left signed in cannot guess it without limit (review R5, session 6): five wrong
guesses lock that browser for that name (its device token's rule), every guess is
recorded as the login form's are, and the right password still changes it before."""
from __future__ import annotations

import pytest

from tests import test_district_web as dw
from tests import test_hub_web_app as hw
from tests.test_district_tracing import db, street  # noqa: F401 (fixtures)

pytest_plugins = ["tests.district_fixtures"]
NEW = "a brand new password"


def signed_in(app, csrf_of, password, name):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": name, "password": password,
                                       "csrf": token}).status_code == 302
    client.csrf = csrf_of(client.get("/").get_data(as_text=True))
    return client


def guess(client, old: str, new: str = NEW):
    return client.post("/account/password", data={"csrf": client.csrf, "old": old,
                                                  "new": new, "again": new})


def guessing_is_locked(client, right: str) -> None:
    codes = [guess(client, f"wrong guess {i}").status_code for i in range(5)]
    assert codes == [200] * 5                 # said wrong, not locked yet
    locked = guess(client, right)             # even the right one now waits
    assert locked.status_code == 429
    assert "Too many attempts" in locked.get_data(as_text=True)


@pytest.fixture
def hub_app(compound):
    return hw.create_app(hw.web_config.__wrapped__(compound))


@pytest.fixture
def district_app(district_dsn, district_home, street):  # noqa: F811
    return dw.create_app(dw.web_config.__wrapped__(district_dsn, district_home, street))


def test_the_hubs_password_form_locks_a_guesser_and_records_each_guess(hub_app, compound):
    client = signed_in(hub_app, hw.csrf_of, hw.PASSWORD, "observer")
    before = compound.db["login_attempts"].count
    guessing_is_locked(client, hw.PASSWORD)
    assert compound.db["login_attempts"].count - before == 5     # the locked try unchecked
    # Another browser (no device token of this name) changes it with the right password.
    other = signed_in(hub_app, hw.csrf_of, hw.PASSWORD, "office")
    assert guess(other, hw.PASSWORD).status_code == 302


def test_the_districts_password_form_locks_a_guesser_and_audits_each_guess(district_app,
                                                                          db):  # noqa: F811
    client = signed_in(district_app, dw.csrf_of, dw.PASSWORD, "observer")
    before = len(dw.audit(db, "login.try"))
    guessing_is_locked(client, dw.PASSWORD)
    assert len(dw.audit(db, "login.try")) - before == 5
    other = signed_in(district_app, dw.csrf_of, dw.PASSWORD, "admin")
    assert guess(other, dw.PASSWORD).status_code == 302
    assert dw.audit(db, "user.password")[-1]["target"] == "admin"
