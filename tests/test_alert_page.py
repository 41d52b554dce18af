"""The alerts the office sees on its screens carry the person masked, as every message
that leaves the hub does: the alerts page, the overview and its live stream."""
from __future__ import annotations

from tests.test_hub_web_app import NOW, app, as_user, attempt, send, web_config  # noqa: F401


def test_an_attempts_alert_shows_the_household_masked(as_user, compound):
    send(compound, "north", [attempt(NOW - 60, outcome="refuse", name="张三丰",
                                     household="7-2-302", reasons=["HEALTH_RED"], alert=True)])
    client = as_user("observer")
    for page in (client.get("/alerts").get_data(as_text=True),
                 client.get("/").get_data(as_text=True),
                 client.get("/api/overview").get_data(as_text=True)):
        assert "红码" in page or "HEALTH_RED" in page
        assert "7-2-302" not in page and "张三丰" not in page
    assert "7-2-**2" in client.get("/alerts").get_data(as_text=True)
