"""The gate's own /healthz and /metrics on its screen's port: a technician's probe and
Prometheus see whether the gate can decide, its link, outbox and today's counts; a
rebound name gets nothing (the screen's host allowlist)."""
import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.processes import wait_until
from tests.test_kiosk_screen import blank, people, show  # noqa: F401


def _get(url: str, host: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_gate_reports_its_health_and_metrics_and_todays_admit(home, people,  # noqa: F811
                                                                 kiosk_screen):
    k = kiosk_screen(home, blank(1) + show(people["pass"]) + show(people["green"]) + blank(20))
    wait_until(lambda: _get(k.url + "healthz")[0] == 200, 20, message="a healthy gate")
    doc = json.loads(_get(k.url + "healthz")[1])
    assert doc["checks"]["camera"]["ok"] and doc["checks"]["door"]["ok"]
    assert doc["checks"]["hub_link"]["state"] == "none"          # no hub here: still ok

    def today():
        fams = {f.name: f for f in text_string_to_metric_families(
            _get(k.url + "metrics")[1].decode())}
        return {s.labels["kind"]: s.value for s in fams["gatehouse_kiosk_today"].samples}, fams
    wait_until(lambda: today()[0]["in"] == 1, 20, message="the admit in today's metrics")
    _, fams = today()
    assert fams["gatehouse_kiosk_camera_ok"].samples[0].value == 1
    assert _get(k.url + "metrics", host="evil.example")[0] == 421
    assert _get(k.url + "healthz", host="evil.example")[0] == 421
