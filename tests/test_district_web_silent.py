"""A compound whose link is silent (its status says no FeedAck reaches it since a time:
hub/district_silence.py) is marked on the district's overview and its page, with what
its technician does; one that is fine is not."""
from __future__ import annotations

import json

from tests.test_district_tracing import NOW, db, street  # noqa: F401 (fixtures)
from tests.test_district_web import app, as_user, web_config  # noqa: F401 (fixtures)

pytest_plugins = ["tests.district_fixtures"]


def test_the_overview_and_the_compounds_page_say_no_acks_reach_it(as_user, db):  # noqa: F811
    db.execute("update compounds set status = status || %s where id = 'c2'",
               [json.dumps({"no_ack_since": NOW - 1800})])
    client = as_user("observer")
    html = client.get("/").get_data(as_text=True)
    rows = {cid: row for cid, row in
            (part.split('"', 1) for part in html.split('<tr data-compound="')[1:])}
    assert 'data-test="no-acks"' in rows["c2"] and 'data-test="no-acks"' not in rows["c1"]
    assert "无回执 no acks since" in rows["c2"]
    page = client.get("/compound/c2").get_data(as_text=True)
    assert 'data-test="no-acks"' in page and "restart" in page
    assert 'data-test="no-acks"' not in client.get("/compound/c1").get_data(as_text=True)
