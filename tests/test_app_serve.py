"""`hub serve`'s composition root (hub/app_serve.py): the nightly jobs live here."""
from zoneinfo import ZoneInfo

from hub import app_serve, app_web
from hub.web import WebConfig
from tests.conftest import T0


def test_the_nightly_jobs_reset_presence_and_purge_once_due(compound):
    clock = [T0]
    config = WebConfig(home=compound.home, clock=lambda: clock[0])
    jobs = app_serve.nightly_jobs(config, ZoneInfo("Asia/Shanghai"))
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
