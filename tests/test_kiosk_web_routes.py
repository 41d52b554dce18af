"""Every route of the volunteer's screen, read from the app's own URL map (so a new
blueprint's routes are covered too): a rebound Host gets 421, a state change needs the
page's CSRF token and its own origin, a volunteer action needs a signed-in volunteer.
The real Flask app on a real Gate (mock pins, a real SQLite log)."""
from __future__ import annotations

import pytest

from kiosk.web import create_app
from tests.conftest import ALICE_ID
from tests.gpio_fixtures import low_pulses
from tests.test_gate_modes import kiosk  # noqa: F401  (the fixture)

VOLUNTEER_ONLY = {"/api/referral", "/api/direction", "/api/manual", "/api/visitor",
                  "/api/courier"}


def routes(app) -> list[tuple[str, str]]:
    """(method, path) of every rule, with a made-up value for each variable part."""
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<name>", "admit").replace("<path:filename>", "kiosk.css")
        out += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


@pytest.fixture
def app(kiosk):  # noqa: F811
    gate = kiosk()
    gate.call = lambda fn, timeout=5.0: fn()   # no loop runs: the test's thread is it
    return create_app(gate, token="t")


def test_the_map_holds_every_blueprint(app):
    paths = {p for _, p in routes(app)}
    assert {"/", "/api/state", "/events", "/preview.jpg", "/api/counts", "/api/signin",
            "/api/signout", "/api/pickup", "/static/kiosk.css"} | VOLUNTEER_ONLY <= paths


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example",
                                  ""])
def test_a_rebound_name_gets_421_on_every_route(app, host):
    client = app.test_client()
    for method, path in routes(app):
        resp = client.open(path, method=method, headers={"Host": host, "X-CSRF-Token": "t"},
                           json={} if method == "POST" else None)
        assert resp.status_code == 421, (method, path)


def test_every_post_needs_the_token_and_our_own_origin(app):
    client = app.test_client()
    for method, path in routes(app):
        if method != "POST":
            continue
        assert client.post(path, json={}).status_code == 403, path
        assert client.post(path, json={}, headers={"X-CSRF-Token": "nope"}).status_code == 403
        for origin in ("http://evil.example", "null"):
            resp = client.post(path, json={}, headers={"X-CSRF-Token": "t", "Origin": origin})
            assert resp.status_code == 403, (path, origin)


def test_volunteer_actions_need_a_signed_in_volunteer(app):
    client = app.test_client()
    for path in sorted(VOLUNTEER_ONLY):
        resp = client.post(path, json={}, headers={"X-CSRF-Token": "t",
                                                   "Origin": "http://localhost"})
        assert resp.status_code == 401, path
    assert client.post("/api/pickup", json={"waybill": "SF1234567890123"},
                       headers={"X-CSRF-Token": "t"}).status_code == 409  # not a parcel area


def test_the_parcel_area_admits_nobody_by_hand(kiosk, mock_pins):  # noqa: F811
    """It runs no entry mode: the entrance's routes answer 409 even to a signed-in
    volunteer, and its relay never moves; visitors are still registered there."""
    area = kiosk(role="parcels")
    area.call = lambda fn, timeout=5.0: fn()
    client = create_app(area, token="t").test_client()
    vid = kiosk.codes["volunteer"]
    assert client.post("/api/signin", json={"volunteer": vid, "pin": "2468"},
                       headers={"X-CSRF-Token": "t"}).status_code == 200
    for path, body in (("/api/manual", {"id_number": ALICE_ID, "attest": True}),
                       ("/api/referral", {"decision": "admit", "reason": "identity_checked"}),
                       ("/api/direction", {"direction": "out"})):
        resp = client.post(path, json=body, headers={"X-CSRF-Token": "t"})
        assert resp.status_code == 409 and resp.json["reason"] == "not an entrance", path
    assert area.store.count() == 0 and not area.hardware.door.is_unlocked
    assert low_pulses(mock_pins.pin(17).states[1:]) == []
    assert client.post("/api/visitor", json={"name": "王小明", "host": "7-302"},
                       headers={"X-CSRF-Token": "t"}).status_code == 200
    [detail] = [r["detail"] for r in area.store.db.query(
        "select detail from events where kind = 'visitor'")]
    assert "王*明" in detail and "王小明" not in detail


def test_the_page_and_state_answer_the_screens_own_name(app):
    client = app.test_client()
    page = client.get("/", headers={"Host": "127.0.0.1:8000"})
    assert page.status_code == 200 and 'content="t"' in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert client.get("/api/state").json["mode"] == "ready"
