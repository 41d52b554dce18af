"""Edges found by the attacking review of session 4: a header the server cannot compare
as text, a day at the calendar's ends. Each was a 500; each is a clear refusal now."""
from __future__ import annotations

import os

import pytest

from hub.health import token_path
from hub.web import WebConfig, create_app
from tests.test_hub_web_app import app, as_user, web_config  # noqa: F401


@pytest.mark.parametrize("url", ["/report/?day=0001-01-01", "/report/?day=9999-12-31",
                                 "/report/day.xlsx?day=9999-12-31",
                                 "/report/chart.svg?day=9999-12-31&days=7",
                                 "/report/chart.svg?day=0001-01-01&days=30"])
def test_a_day_at_the_calendars_end_is_a_400_not_a_500(as_user, url):
    assert as_user("observer").get(url).status_code in (200, 400)


def test_a_non_ascii_authorization_header_is_a_401_not_a_crash(compound):
    path = token_path(compound.home)
    path.write_text("a-long-enough-t0ken\n")
    os.chmod(path, 0o600)
    client = create_app(WebConfig(home=compound.home, secret_key=b"k" * 32)).test_client()
    lan = {"REMOTE_ADDR": "192.168.1.50"}
    assert client.get("/metrics", environ_base=lan,
                      headers={"Authorization": "Bearer \u00e9"}).status_code == 401
    assert client.get("/metrics", environ_base=lan,
                      headers={"Authorization": "Bearer a-long-enough-t0ken"}).status_code == 200


def test_an_empty_token_file_lets_nobody_in(compound):
    path = token_path(compound.home)
    path.write_text("\n")
    os.chmod(path, 0o600)
    client = create_app(WebConfig(home=compound.home, secret_key=b"k" * 32)).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.50"},
                      headers={"Authorization": "Bearer "}).status_code == 401
