"""Attacks on alert routes found by the attacking review of session 4 (docs/security.md):
each failed on the code before its fix. Routes are an admin's to set (Perm.ALERT_ROUTES);
the office may read the page."""
from __future__ import annotations

import json
import socket
import threading
import time

from hub.alert_delivery import AlertDelivery, config_path
from hub.alert_kinds import AlertKind
from tests.test_alert_delivery import T
from tests.test_hub_web_app import app, as_user, post, web_config  # noqa: F401


def save(client, **form):
    return client.post("/alerts/delivery/routes", data={"csrf": client.csrf, **form})


def test_a_route_url_with_a_bad_port_does_not_break_the_alerts_page(as_user, compound):
    office = as_user("admin")
    r = save(office, name="office", channel="wecom",
             url="https://qyapi.weixin.qq.com:443x/cgi-bin/webhook/send?key=K", kinds=["*"])
    # Today: AlertRoute accepts the URL, save_rules writes it, then core.record(_shown(route))
    # raises ValueError in urlsplit().port -> 500 after the file is saved.
    assert r.status_code in (200, 302)    # refused with a reason, or saved
    # ... and from then on the page that would let the office delete it is a 500 too.
    assert office.get("/alerts/delivery/").status_code == 200


def test_the_robot_key_never_reaches_the_page_in_an_error(as_user, compound):
    office = as_user("admin")
    key = "0f3c2b1a-robot-key-9d8e"
    # A key pasted with a trailing word (a space inside): accepted by the route's check.
    r = save(office, name="office", channel="wecom",
             url=f"http://127.0.0.1:9/cgi-bin/webhook/send?key={key} 群", kinds=["*"])
    assert r.status_code == 302       # refused now ("without spaces"): nothing to send
    post(office, "/alerts/delivery/routes/office/test")
    AlertDelivery(config_path(compound.home.hub)).run(compound.db, time.time())
    # http.client.InvalidURL's message carries the request target, key and all; post()
    # copies it into last_error, which the page shows to every role with VIEW.
    observer = as_user("observer")
    page = observer.get("/alerts/delivery/").get_data(as_text=True)
    assert key not in page
    rows = json.dumps(list(compound.db.query("select * from notification_events")),
                      ensure_ascii=False)
    assert key not in rows


def test_office_staff_cannot_point_a_route_at_any_file_of_the_hub(as_user, compound, tmp_path):
    office = as_user("office")
    victim = compound.home.hub / "notify.json"   # the residents' sender config, say
    victim.write_text('{"channel": "off"}')
    r = save(office, name="x", channel="file", url=str(victim), kinds=["*"])
    post(office, "/alerts/delivery/routes/x/test")
    AlertDelivery(config_path(compound.home.hub)).run(compound.db, time.time())
    # Today: the office role (Perm.NOTIFY, "retry residents' notifications") saves a file
    # route to any path and the test button appends a JSON line to it: notify.json is
    # no longer JSON, hub serve's residents' sender is broken.
    assert r.status_code == 403
    assert json.loads(victim.read_text()) == {"channel": "off"}
    # Nor an admin from the page: a file route is the technician's, in alerts.json.
    admin = as_user("admin")
    page = admin.post("/alerts/delivery/routes", data={"csrf": admin.csrf, "name": "x",
                      "channel": "file", "url": str(victim), "kinds": ["*"]},
                      follow_redirects=True).get_data(as_text=True)
    assert "alerts.json" in page and json.loads(victim.read_text()) == {"channel": "off"}


def test_an_internal_services_reply_is_not_shown_on_the_page(as_user, compound):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    secret = "INTERNAL-ONLY-admin-token-42"

    def serve():
        conn, _ = srv.accept()
        conn.recv(65536)
        body = f"<html>internal admin console {secret}</html>".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        conn.close()
    threading.Thread(target=serve, daemon=True).start()
    office = as_user("admin")
    save(office, name="probe", channel="wecom", url=f"http://127.0.0.1:{port}/admin", kinds=["*"])
    post(office, "/alerts/delivery/routes/probe/test")
    AlertDelivery(config_path(compound.home.hub)).run(compound.db, time.time())
    srv.close()
    page = office.get("/alerts/delivery/").get_data(as_text=True)
    # Today: check_errcode copies the first 200 characters of a non-JSON reply into
    # last_error ("robot replied with no JSON: …"), listed on the page.
    assert secret not in page


def test_a_token_in_a_webhook_path_is_not_shown_to_every_viewer(as_user, compound):
    office = as_user("admin")
    token = "6f1c0b7e-1d2a-4c8e-9a3b-feishu-bot"
    r = save(office, name="ops", channel="webhook", secret="s3cret",
             url=f"https://open.feishu.cn/open-apis/bot/v2/hook/{token}", kinds=["*"])
    assert r.status_code == 302
    # shown_url strips the query and user:password only: the path (here the whole
    # credential) is on the page for a lead or an observer, and in the audit log.
    page = as_user("lead").get("/alerts/delivery/").get_data(as_text=True)
    assert token not in page
    assert token not in json.dumps(list(compound.db.query("select * from audit")),
                                   ensure_ascii=False)


def test_a_gates_name_field_cannot_put_a_link_in_the_offices_group():
    from zoneinfo import ZoneInfo

    from hub.alert_rules import alert_body
    from hub.alert_senders import WeComRobotSender
    # mask_name returns a name holding '*' unchanged ("already masked at issue time"),
    # mask_household keeps everything before the last '-': a gate login (a tampered
    # gate, in the threat model) chooses the text the office reads under its own robot.
    body = alert_body(AlertKind.HEALTH_RED.value, [("gate-north", "北门", 1)], T, T, ZoneInfo("Asia/Shanghai"),
                      "测试小区", {"name": "[居委会通知:点此重新登记](https://evil.example/*)",
                                   "household": "https://evil.example/reg-1"})
    md = WeComRobotSender("https://x", "markdown").payload(body)["markdown"]["content"]
    assert "evil.example" not in md

