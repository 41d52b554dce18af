"""`hub serve`'s composition root (hub/app_serve.py): the nightly jobs live here."""
from zoneinfo import ZoneInfo

import pytest

from gatehouse.envconfig import SettingError
from hub import app_serve, app_web
from hub.retention import NightlyConfig
from hub.web import WebConfig
from tests.conftest import T0


def test_the_nightly_jobs_reset_presence_and_purge_once_due(compound):
    clock = [T0]
    jobs = app_serve.nightly_jobs(compound.home, NightlyConfig(), ZoneInfo("Asia/Shanghai"),
                                  clock=lambda: clock[0])
    assert [j.name for j in jobs] == ["presence-reset", "retention-purge"]
    for job in jobs:
        job._pass(None)           # not due yet: nothing happens
    assert compound.db["audit"].count == 0
    clock[0] = T0 + 86400
    for job in jobs:
        job._pass(None)
    actions = [r["action"] for r in compound.db.query("select action from audit order by id")]
    assert actions == ["presence.reset", "retention.purge"]


def test_the_admin_page_runs_no_jobs():
    assert "nightly" not in vars(app_web) and "Periodic" not in vars(app_web)


def test_hub_serve_and_the_admin_page_read_the_same_nightly_settings(compound, monkeypatch):
    """One environment file serves both units: `hub serve` runs the purge the page shows."""
    monkeypatch.setenv("GATEHOUSE_WEB_RETENTION_DAYS", "14")
    monkeypatch.setenv("GATEHOUSE_WEB_PURGE_AT", "04:15")
    nightly, page = NightlyConfig.from_env(), WebConfig.from_env(compound.home)
    assert (nightly.retention_days, nightly.purge_at) == (14, "04:15")
    assert (page.retention_days, page.purge_at) == (14, "04:15")
    assert page.reset_at == nightly.reset_at == "03:00"


def test_a_mistyped_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("GATEHOUSE_WEB_RETENTION_DAYS", "two weeks")
    with pytest.raises(SettingError, match="GATEHOUSE_WEB_RETENTION_DAYS='two weeks'"):
        NightlyConfig.from_env()
