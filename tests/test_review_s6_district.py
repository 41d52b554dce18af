"""H-REVIEW s6: the district's changes of this session attacked that held: an observer
(the health authority) finding a whole person reference anywhere (969c842), a hub's
session cookie on the district's page and the other way round (1055e30), and `district
compound remove` given twice, an unknown id, odd characters, the service's own login
(263fc6f). Real PostgreSQL (tests/district_fixtures.py), the real Flask apps.

What did not hold (a removed compound's old orders sent when it comes back) is
/work/notes/s6-review-repro/test_review_s6_removed_orders.py.
"""
from __future__ import annotations

import dataclasses
import io

import openpyxl
from click.testing import CliRunner

from district.cli import main as district_cli
from district.web import BINDING_KEY_FILE
from gatehouse.identity import person_ref
from tests import test_hub_web_app as hw
from tests.test_district_tracing import REF_A, REF_B, REF_C, REF_D, T, event  # noqa: F401
from tests.test_district_tracing import db, street  # noqa: F401 (fixtures)
from tests.test_district_web import ID_NUMBER, app, as_user, web_config  # noqa: F401

pytest_plugins = ["tests.district_fixtures"]
WHOLE = (REF_A, REF_B, REF_C, REF_D)


def _whole_in(text: str) -> list[str]:
    low = text.lower()
    return [r for r in WHOLE if r in low]


def test_an_observer_finds_no_whole_reference_typed_odd_or_in_any_export(  # noqa: F811
        as_user, web_config, db):
    key = b"b" * 32
    (web_config.home.root / BINDING_KEY_FILE).write_bytes(key)
    ref = person_ref(key, ID_NUMBER).hex()
    event(db, "c1", "north", T + 60, ref)
    admin, client = as_user("admin"), as_user("observer")
    # The admin traces and unmasks: whole references go into the audit log.
    admin.get(f"/tracing?who={REF_A}&minutes=60")
    admin.post("/tracing/unmask", data={"csrf": admin.csrf, "who": REF_B, "minutes": "60"})
    seen = []
    for who in (REF_A.upper(), f"  {REF_A}  ", ID_NUMBER, f" {ID_NUMBER} ", ID_NUMBER.lower()):
        resp = client.get("/tracing", query_string={"who": who, "minutes": "240", "days": "28"})
        seen.append(resp.headers.get("Location", ""))
        if resp.status_code == 302:
            resp = client.get(resp.headers["Location"])
        seen.append(resp.get_data(as_text=True))
    for url in ("/audit", "/audit.csv", "/audit?action=trace.", "/audit.csv?action=trace.unmask",
                "/", "/compound/c1", "/compound/c2", "/orders"):
        seen.append(client.get(url).get_data(as_text=True))
    for path in ("/tracing/export.csv", "/tracing/export.xlsx"):
        for kind in ("", "contacts"):
            resp = client.get(path, query_string={"who": REF_A.upper(), "kind": kind,
                                                  "minutes": "240"})
            assert resp.status_code == 200
            seen.append(resp.headers.get("Content-Disposition", ""))
            if path.endswith(".xlsx"):
                book = openpyxl.load_workbook(io.BytesIO(resp.data))
                seen.append(" ".join(str(c.value) for s in book.worksheets
                                     for row in s.iter_rows() for c in row))
            else:
                seen.append(resp.get_data(as_text=True))
    # The observer typed REF_A itself: the others (contacts, the admin's targets) and the
    # ID number's reference must never show whole.
    text = "\n".join(seen)
    assert not [r for r in (REF_B, REF_C, REF_D, ref) if r in text.lower()], \
        _whole_in(text)
    assert ID_NUMBER not in "".join(s for s in seen if s.startswith("/"))
    # Unmasking stays the admin's.
    assert client.post("/tracing/unmask", data={"csrf": client.csrf, "who": REF_A}
                       ).status_code == 403


def test_a_hub_session_cookie_is_nothing_at_the_district_and_back(  # noqa: F811
        as_user, compound):
    # Each page has its own secret (the hub's home, the district's web.secret); the
    # tests' fixtures give both b"k" * 32, so the hub gets another one here.
    hub = hw.create_app(dataclasses.replace(hw.web_config.__wrapped__(compound),
                                            secret_key=b"h" * 32))
    hub_client = hub.test_client()
    assert hw.login(hub_client, "admin").status_code == 302
    hub_cookie = hub_client.get_cookie("gatehouse_session").value
    district_client = as_user("admin")
    district_cookie = district_client.get_cookie("district_session").value
    # The hub's signed session under the district's name (and under its own) gets the
    # district's login; the district's under the hub's name gets the hub's login.
    fresh = district_client.application.test_client()
    for name in ("district_session", "gatehouse_session"):
        fresh.set_cookie(name, hub_cookie)
    resp = fresh.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    back = hub.test_client()
    for name in ("gatehouse_session", "district_session"):
        back.set_cookie(name, district_cookie)
    resp = back.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(district_cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_removing_twice_unknown_odd_or_the_services_login_changes_nothing_else(
        district_home, district_dsn):
    from district.db import connect
    home = str(district_home.root)
    assert _cli("compound", "add", "c1", "--home", home)[0] == 0
    assert _cli("compound", "add", "c2", "--home", home)[0] == 0
    before_c2 = district_home.secrets()["compounds"]["c2"]
    with connect(district_dsn) as conn:      # c1 has sent something: the store knows it
        conn.execute("insert into compounds (id, name) values ('c1', '一号社区')")
    code, out = _cli("compound", "remove", "c1", "--home", home, "--dsn", district_dsn,
                     "--by", "wang")
    assert code == 0 and "broker login is gone" in out
    with connect(district_dsn) as conn:
        first = conn.execute("select removed_at from compounds where id = 'c1'").fetchone()[0]
    assert first is not None
    code, out = _cli("compound", "remove", "c1", "--home", home, "--dsn", district_dsn)
    assert code == 0 and "it had no broker login" in out
    for odd in ("nope", "c2 ", "C2", "c2/../c1", "../secrets", "c2;drop table audit",
                "district", "=HYPERLINK(\"http://x\")", "", "ü" * 300):
        code, out = _cli("compound", "remove", odd, "--home", home, "--dsn", district_dsn)
        assert code == 1, (odd, out)
    assert district_home.secrets()["compounds"] == {"c2": before_c2}
    with connect(district_dsn) as conn:
        # The first removal's time kept; every try audited; nothing else changed.
        assert conn.execute("select removed_at from compounds where id = 'c1'"
                            ).fetchone()[0] == first
        assert conn.execute("select count(*) from audit where action = 'compound.remove'"
                            ).fetchone()[0] == 12
        assert conn.execute("select count(*) from compounds where removed_at is not null"
                            ).fetchone()[0] == 1
