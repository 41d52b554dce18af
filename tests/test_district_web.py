"""The district's page (district/web) as a real Flask app on a real PostgreSQL: every route
from the URL map tried as an outsider, the roles, tracing across two compounds through
the page (masked, unmasked by an admin only, every look-up and export audited, the
retention kept), the .xlsx's identifiers as text, orders, the overview."""
from __future__ import annotations

import io
import json
import re
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime

import openpyxl
import psycopg
import pytest
from click.testing import CliRunner
from psycopg.rows import dict_row

from district.cli import main as district_cli
from district.web import BINDING_KEY_FILE, WebConfig, accounts, create_app
from gatehouse.identity import person_ref
from gatehouse.processes import Process, free_port, port_open, wait_until
from gatehouse.policy import Policy
from tests.test_district_tracing import (  # noqa: F401  (fixtures)
    NOW,
    REF_A,
    REF_B,
    REF_C,
    REF_D,
    T,
    db,
    event,
    street,
)

pytest_plugins = ["tests.district_fixtures"]
PASSWORD = "correct horse battery"
HOST = "district.example"
OPEN = {"auth.login", "static"}
SAMPLE = {"cid": "c1", "name": "observer", "filename": "app.css"}
# What an observer may post: their own session and password.
OBSERVER_MAY = {"auth.logout", "auth.password", "auth.login"}
ID_NUMBER = "110101199003074477"


def _ts(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


@pytest.fixture
def web_config(district_dsn, district_home, street):
    for name, role in (("admin", "admin"), ("observer", "observer")):
        accounts.add_user(street, name, PASSWORD, role, NOW - 86400)
    street.execute(
        "insert into compounds (id, name, last_event_at, last_status_at, status) values "
        "('c1', '一号社区', %s, %s, %s), ('c2', '二号社区', %s, %s, %s)",
        [_ts(T), _ts(NOW - 10), json.dumps({"buildings": {"7": "sealed", "8": "controlled"},
                                             "backlog": 3, "bundle_version": 41,
                                             "policy_version": 7, "order_seq": 0,
                                             "today": {"admit": 52, "refer": 3, "refuse": 2},
                                             "alerts_open": 1}),
         _ts(T + 7200), _ts(NOW - 1000), json.dumps({"backlog": 0})])
    street.execute("insert into compound_ranges values ('c1', 1, 10), ('c1', 15, 20), "
                   "('c2', 1, 5)")
    event(street, "c1", "north", NOW - 600, REF_C, outcome="refuse", alert=True)
    return WebConfig(dsn=district_dsn, district_id="d1", home=district_home,
                     secret_key=b"k" * 32, clock=lambda: NOW, hosts=(HOST,),
                     retention_days=28)


@pytest.fixture
def app(web_config):
    return create_app(web_config)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client, name="admin", password=PASSWORD):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": name, "password": password, "csrf": token})


@pytest.fixture
def as_user(app):
    def make(name="admin"):
        client = app.test_client()
        assert login(client, name).status_code == 302
        client.csrf = csrf_of(client.get("/").get_data(as_text=True))
        return client
    return make


def audit(db, action_prefix=""):  # noqa: F811
    return db.execute("select * from audit where action like %s order by id",
                      [action_prefix + "%"]).fetchall()


def routes(app, method: str) -> list[tuple[str, str]]:  # noqa: F811
    out = []
    for rule in app.url_map.iter_rules():
        if method in rule.methods:
            url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE[m.group(1)], rule.rule)
            out.append((rule.endpoint, url))
    return sorted(out)


def test_the_map_is_read(app):
    gets, posts = routes(app, "GET"), routes(app, "POST")
    assert ("trace.export_xlsx", "/tracing/export.xlsx") in gets
    assert ("orders.policy", "/orders/policy") in posts
    assert len(gets) >= 10 and len(posts) >= 7


def test_a_stranger_gets_the_login_from_every_page(app):
    client = app.test_client()
    for endpoint, url in routes(app, "GET"):
        if endpoint in OPEN:
            continue
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    assert client.get("/healthz").status_code == 200


def test_a_stranger_with_the_login_forms_token_changes_nothing(app, db):  # noqa: F811
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    before = len(audit(db))
    for endpoint, url in routes(app, "POST"):
        if endpoint in OPEN:
            continue
        resp = client.post(url, data={"csrf": token, "kind": "seal", "compound": "c1",
                                      "building": "7"})
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    assert client.post("/orders/building", data={"csrf": "forged"}).status_code == 400
    assert len(audit(db)) == before
    assert not db.execute("select * from orders").fetchall()


def test_every_post_needs_the_token(as_user, app):
    admin = as_user("admin")
    for _, url in routes(app, "POST"):
        assert admin.post(url, data={}).status_code == 400, url
        assert admin.post(url, data={"csrf": "é"}).status_code == 400, url


def test_a_rebound_name_gets_421_on_every_route(app, as_user):
    admin = as_user("admin")
    for method in ("GET", "POST"):
        for _, url in [*routes(app, method), ("", "/healthz")]:
            resp = admin.open(url, method=method, headers={"Host": "evil.example"},
                              data={"csrf": admin.csrf})
            assert resp.status_code == 421, (method, url)
    assert app.test_client().get("/login", headers={"Host": f"{HOST}:8090"}).status_code == 200


def test_an_observer_traces_but_orders_nothing_and_keeps_no_users(as_user, app, db):  # noqa: F811
    observer = as_user("observer")
    before = len(audit(db, "order")) + len(audit(db, "user"))
    for endpoint, url in routes(app, "POST"):
        if endpoint in OPEN | OBSERVER_MAY:
            continue
        resp = observer.post(url, data={"csrf": observer.csrf, "kind": "seal",
                                        "compound": "c1", "building": "7", "who": REF_A})
        assert resp.status_code == 403, (url, resp.status_code)
    assert observer.get("/users").status_code == 403
    assert len(audit(db, "order")) + len(audit(db, "user")) == before
    assert observer.get(f"/tracing?who={REF_A}").status_code == 200
    assert observer.get("/orders").status_code == 200 and observer.get("/audit").status_code == 200


def test_tracing_finds_the_contact_at_the_other_compound_masked_and_audited(as_user, db):  # noqa: F811
    client = as_user("observer")
    html = client.get(f"/tracing?who={REF_A}&minutes=15").get_data(as_text=True)
    assert "c1" in html and "c2" in html and "二号" not in html
    assert REF_B[:6] + "…" in html and REF_B not in html          # masked by default
    assert REF_D[:6] + "…" in html and REF_C[:6] not in html       # C was 40 min after
    (row,) = audit(db, "trace.")
    assert (row["actor"], row["role"], row["action"], row["target"], row["ip"]) == \
        ("observer", "observer", "trace.view", REF_A, "127.0.0.1")
    assert row["detail"]["contacts"] == 2 and row["at"] == _ts(NOW)


def test_only_an_admin_unmasks_and_it_is_audited(as_user, db):  # noqa: F811
    observer, admin = as_user("observer"), as_user("admin")
    form = {"who": REF_A, "minutes": "15"}
    resp = observer.post("/tracing/unmask", data={**form, "csrf": observer.csrf})
    assert resp.status_code == 403
    html = admin.post("/tracing/unmask", data={**form, "csrf": admin.csrf}).get_data(as_text=True)
    assert REF_B in html
    assert [(r["actor"], r["action"], r["target"]) for r in audit(db, "trace.")] == \
        [("admin", "trace.unmask", REF_A)]


def test_a_contact_is_traced_in_turn_by_their_event(as_user, db):  # noqa: F811
    client = as_user("observer")
    event_id = db.execute("select event_id from events where person_ref = %s",
                          [REF_B]).fetchone()["event_id"]
    html = client.get(f"/tracing?via=c2/{event_id}&minutes=15").get_data(as_text=True)
    assert REF_A[:6] + "…" in html
    assert audit(db, "trace.")[-1]["target"] == REF_B


def test_an_id_number_traces_only_with_the_binding_key_and_leaves_the_url(  # noqa: F811
        as_user, web_config, db):
    client = as_user("observer")
    assert client.get(f"/tracing?who={ID_NUMBER}").status_code == 400
    key = b"b" * 32
    (web_config.home.root / BINDING_KEY_FILE).write_bytes(key)
    ref = person_ref(key, ID_NUMBER).hex()
    resp = client.get(f"/tracing?who={ID_NUMBER}&days=14")
    assert resp.status_code == 302 and ID_NUMBER not in resp.headers["Location"]
    assert ref not in resp.headers["Location"]    # an observer sees no whole reference
    client.get(resp.headers["Location"])
    assert audit(db, "trace.")[-1]["target"] == ref
    assert not any(ID_NUMBER in json.dumps(r, default=str) for r in audit(db))


def test_nothing_older_than_the_retention_is_shown(web_config, db):  # noqa: F811
    from dataclasses import replace
    app = create_app(replace(web_config, retention_days=7))
    client = app.test_client()
    login(client, "observer")
    html = client.get(f"/tracing?who={REF_A}&days=28&minutes=240").get_data(as_text=True)
    timeline = html.split('id="timeline"')[1].split("</table>")[0]
    assert timeline.count("<tr>") == 3                            # header + c1 + c2
    assert "11-06" not in html                                    # the one 20 days ago


def test_every_export_is_audited_and_the_xlsx_keeps_identifiers_as_text(as_user, db):  # noqa: F811
    event(db, "c2", "east", T + 7200 + 120, "f" * 24, building="0301",
          name="=HYPERLINK(\"http://x\")", household="=1+1")
    client = as_user("observer")
    csv_text = client.get(f"/tracing/export.csv?who={REF_A}&kind=contacts&minutes=15") \
        .get_data(as_text=True)
    assert "'=" in csv_text and REF_B not in csv_text and REF_B[:6] in csv_text
    resp = client.get(f"/tracing/export.xlsx?who={REF_A}&minutes=15")
    assert resp.headers["Cache-Control"] == "no-store"
    book = openpyxl.load_workbook(io.BytesIO(resp.data))
    sheet = book.worksheets[1]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[header.index("building")].value == "0301")
    for field in ("gate", "building", "compound", "name", "household", "person"):
        assert row[header.index(field)].data_type == "s", field
    assert row[header.index("building")].value == "0301"
    assert row[header.index("name")].value.startswith("=")        # text, quote-prefixed
    assert row[header.index("name")].quotePrefix
    assert isinstance(row[header.index("at")].value, datetime)
    assert [(r["action"], r["target"], r["detail"]["format"]) for r in audit(db, "trace.")] == \
        [("trace.export", REF_A, "csv"), ("trace.export", REF_A, "xlsx")]


def test_the_overview_shows_each_compound(as_user):
    html = as_user("observer").get("/").get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r'<tr data-compound="(\w+)">(.*?)</tr>', html, re.S)}
    assert "在线 online" in rows["c1"] and "离线 offline" in rows["c2"]
    assert 'class="sealed">7' in rows["c1"] and 'class="controlled">8' in rows["c1"]
    assert "1 · 4" in rows["c1"]                                  # one gap, 4 missing
    assert '<span class="pill bad">1</span>' in rows["c1"]        # an open alert
    assert re.search(r'n">52</td><td class="n">3</td><td class="n">2</td>', rows["c1"])
    assert 'data-test="online">1/2' in html
    page = as_user("observer").get("/compound/c1").get_data(as_text=True)
    assert "一号社区" in page and "HEALTH_RED" in page            # today's alert, from events
    assert "11–14" in page                                        # the cseq never received
    assert as_user("observer").get("/compound/nope").status_code == 404


def test_orders_are_the_admins_and_show_their_status(as_user, db):  # noqa: F811
    admin = as_user("admin")
    resp = admin.post("/orders/building", data={"csrf": admin.csrf, "kind": "seal",
                                                "compound": "c1", "building": "9"})
    assert resp.status_code == 302
    policy = json.dumps(Policy().model_dump(mode="json"))
    admin.post("/orders/policy", data={"csrf": admin.csrf, "policy": policy,
                                       "compound": ["c1", "c2"], "template": "winter"})
    admin.post("/orders/building", data={"csrf": admin.csrf, "kind": "seal",
                                         "compound": "nowhere", "building": "1"})
    orders = db.execute("select compound, seq, kind, building, status, issued_by from orders "
                        "order by id").fetchall()
    assert [(o["compound"], o["seq"], o["kind"], o["building"]) for o in orders] == \
        [("c1", 1, "seal", "9"), ("c1", 2, "policy", None), ("c2", 1, "policy", None)]
    assert {o["status"] for o in orders} == {"pending"} and orders[0]["issued_by"] == "admin"
    assert [r["action"] for r in audit(db, "order.")] == ["order.seal", "order.policy",
                                                          "order.policy"]
    db.execute("update orders set status = 'applied' where compound = 'c1' and seq = 1")
    html = admin.get("/orders").get_data(as_text=True)
    assert "applied" in html and "pending" in html and ">41<" in html
    bad = admin.post("/orders/policy", data={"csrf": admin.csrf, "policy": '{"nope": 1}',
                                             "compound": "c1"}, follow_redirects=True)
    assert "order refused" in bad.get_data(as_text=True)


def test_sign_in_is_throttled_and_a_disabled_users_session_ends(app, as_user, db):  # noqa: F811
    observer = as_user("observer")      # this browser signed in before: a device token
    guesser = app.test_client()
    for _ in range(5):
        assert login(guesser, "observer", "wrong password").status_code == 401
    assert login(guesser, "observer").status_code == 429
    observer.post("/logout", data={"csrf": observer.csrf})
    assert login(observer, "observer").status_code == 302     # not slowed by the guesser
    admin = as_user("admin")
    admin.post("/users/observer/disable", data={"csrf": admin.csrf})
    assert observer.get("/").status_code == 302
    assert [r["target"] for r in audit(db, "user.")] == ["observer"]


def test_the_users_commands(district_home, district_dsn):
    cfg = district_home.config()
    cfg.dsn = district_dsn
    district_home.save(cfg)
    home = ["--home", str(district_home.root)]
    runner = CliRunner()
    res = runner.invoke(district_cli, ["user", "add", *home, "wang", "--role", "admin",
                                       "--password", "a long password"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(district_cli, ["user", "add", *home, "wang", "--password", "x" * 12])
    assert res.exit_code == 1 and "exists" in res.output
    assert runner.invoke(district_cli, ["user", "disable", *home, "wang"]).exit_code == 0
    listed = json.loads(runner.invoke(district_cli, ["user", "list", *home]).output)
    assert listed[0]["username"] == "wang" and listed[0]["disabled_at"]
    with psycopg.connect(district_dsn, row_factory=dict_row) as conn:
        assert accounts.sign_in(conn, "wang", "a long password", "1.2.3.4", NOW).user is None


def _get(url: str, host: str) -> int:
    req = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_district_web_serves_its_names_only_under_waitress(district_home, district_dsn,
                                                            tmp_path):
    """The real command in its own process: refuses to start without users, then
    answers its names and 421 to any other."""
    cfg = district_home.config()
    cfg.dsn = district_dsn
    district_home.save(cfg)
    port = free_port()
    args = [sys.executable, "-c", "from district.cli import main; main()", "web", "--home",
            str(district_home.root), "--port", str(port), "--host", HOST]
    first = Process(args, tmp_path / "web0.log", name="district-web").start()
    assert first.proc.wait(30) == 1
    first.stop()
    assert "district user add" in first.output()
    with psycopg.connect(district_dsn, autocommit=True, row_factory=dict_row) as conn:
        accounts.add_user(conn, "wang", PASSWORD, "admin", NOW)
    proc = Process(args, tmp_path / "web.log", name="district-web").start()
    try:
        wait_until(lambda: port_open(port), 30, message="district web listening")
        base = f"http://127.0.0.1:{port}"
        assert _get(base + "/healthz", f"{HOST}:{port}") == 200
        assert _get(base + "/login", f"{HOST}:{port}") == 200
        assert _get(base + "/login", f"evil.example:{port}") == 421
        assert _get(base + "/healthz", "evil.example") == 421
        assert (district_home.root / "web.secret").stat().st_mode & 0o077 == 0
    finally:
        proc.stop()


def test_a_password_change_ends_the_session_and_login_sends_nowhere_else(app, as_user):
    client = as_user("observer")
    form = {"csrf": client.csrf, "old": PASSWORD, "new": "another long one", "again":
            "another long one"}
    assert client.post("/account/password", data={**form, "old": "wrong"}).status_code == 200
    assert client.post("/account/password", data=form).status_code == 302
    assert client.get("/").status_code == 302                       # signed out
    assert login(client, "observer").status_code == 401
    stranger = app.test_client()
    token = csrf_of(stranger.get("/login").get_data(as_text=True))
    for target in ("//evil.example/", "/\\evil.example", "https://evil.example/"):
        resp = stranger.post(f"/login?next={target}", data={
            "username": "admin", "password": PASSWORD, "csrf": token})
        assert resp.headers["Location"] == "/", target
        token = csrf_of(stranger.get("/").get_data(as_text=True))


def test_a_foreign_site_posting_with_the_admins_cookie_changes_nothing(as_user, db):  # noqa: F811
    """A page on another site makes the admin's browser post to the district (the
    cookie is SameSite=Strict; here the test client sends it anyway): with no token
    every account route is a 400 and nothing changes: users, passwords, sessions."""
    admin = as_user("admin")
    cross = {"Origin": "https://evil.example", "Referer": "https://evil.example/x"}
    posts = {"/users/add": {"username": "mallory", "password": "x" * 12, "role": "admin"},
             "/users/observer/disable": {},
             "/account/password": {"old": PASSWORD, "new": "y" * 12, "again": "y" * 12},
             "/logout": {},
             "/login": {"username": "admin", "password": PASSWORD}}
    before = db.execute("select username, pw_hash, disabled_at from users "
                        "order by username").fetchall()
    for url, form in posts.items():
        assert admin.post(url, data=form, headers=cross).status_code == 400, url
    assert db.execute("select username, pw_hash, disabled_at from users "
                      "order by username").fetchall() == before
    assert admin.get("/users").status_code == 200          # still signed in
