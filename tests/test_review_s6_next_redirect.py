"""R1/R2 (H-REVIEW s6): the sign-in's `next=` (gatehouse/web_signin.py next_path).

R1: `next=/%09/evil.example` passed next_path's check ("/" then "\t", not "/" or "\\"),
and werkzeug turned the Location into `//evil.example` (it drops tabs and newlines as
browsers do): after signing in, the browser went to evil.example. Both office pages
(the hub's and the district's) share the code. R2: `next=/%0A/x` (or %0D%0A) was a 500
after a successful sign-in. Fixed: no control character or backslash anywhere in
`next`, and nothing that names a host; a path of this site still works.
"""
from __future__ import annotations

import pytest

from tests import test_district_web as dw
from tests import test_hub_web_app as hw
from tests.test_district_tracing import db, street  # noqa: F401 (fixtures)
from tests.test_district_web_password import district_app, hub_app  # noqa: F401 (fixtures)

pytest_plugins = ["tests.district_fixtures"]


def _sign_in(app, csrf_of, password, query: str):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login?" + query, data={"username": "admin", "password": password,
                                                  "csrf": token})


def _stays_here(resp) -> None:
    where = resp.headers.get("Location", "")
    assert resp.status_code == 302, resp.status_code
    assert where.startswith("/") and not where.startswith("//") and "\\" not in where, where


@pytest.mark.parametrize("query", ["next=/%09/evil.example", "next=/%0A/evil.example",
                                   "next=/%0B/evil.example", "next=%09//evil.example",
                                   "next=/%5C%09evil.example"])
def test_the_hubs_sign_in_goes_nowhere_else(hub_app, query):  # noqa: F811
    _stays_here(_sign_in(hub_app, hw.csrf_of, hw.PASSWORD, query))


@pytest.mark.parametrize("query", ["next=/%09/evil.example", "next=/%0D%0A/evil.example"])
def test_the_districts_sign_in_goes_nowhere_else(district_app, query):
    _stays_here(_sign_in(district_app, dw.csrf_of, dw.PASSWORD, query))


def test_a_path_of_this_site_is_still_where_the_sign_in_goes(hub_app):
    resp = _sign_in(hub_app, hw.csrf_of, hw.PASSWORD, "next=/parcels%3Fshelf%3DA")
    assert resp.status_code == 302 and resp.headers["Location"] == "/parcels?shelf=A"
