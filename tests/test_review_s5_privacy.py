"""Review s5: what of a person's name leaves the compound in its district feed (the hub's
real ingest and feed on real SQLite), and what the district shows of it (real
PostgreSQL)."""
from __future__ import annotations

import time

from district import tracing
from hub import district_feed
from hub.ingest import ingest
from hub.features import event_handlers
from tests.test_district_tracing import NOW, REF_A, T, db, event  # noqa: F401  (fixture)
from tests.test_hub_district import attempt, batch, setup

pytest_plugins = ["tests.district_fixtures"]

FULL = "欧阳建国"


def shown(name: str | None) -> str:
    return "".join(ch for ch in name or "" if ch not in "* ")


def test_a_name_typed_with_spaces_leaves_masked(compound):
    """D10: mask_name masks each word of a spaced name to its first letter, so a name
    typed (or sent by a tampered gate) with a space between its characters, `欧 阳 建 国`,
    or in the masked shape one letter a word, `欧* 阳* 建* 国*`, left the compound whole.
    At most two of a name's letters leave, and never all, as for 欧**国, J*** S****, 王*."""
    db, policy = setup(compound)
    names = ["欧 阳 建 国", "欧* 阳* 建* 国*", "王 明", "Mary Ann Smith", FULL, "J*** S****",
             "张*丰"]
    ingest(db, [batch("gate-a", *[attempt(i + 1, name=n) for i, n in enumerate(names)])],
           policy, event_handlers())
    got = [e.name for e in district_feed.next_events(db, 0, time.time())]
    assert all(len(shown(n)) <= 2 and len(shown(n)) < len(n.replace(" ", "")) for n in got
               ), got
    assert got[4:] == ["欧**国", "J*** S****", "张*丰"]      # real masks unchanged
    assert (shown(got[0]), shown(got[1]), shown(got[2])) == ("欧阳", "欧阳", "王")


def test_the_district_shows_a_spaced_name_from_an_older_hub_masked(db):  # noqa: F811
    """D10 at the district: a hub from before the fix sends `欧 阳 建 国`; tracing (the
    page and both exports read these rows) shows at most two of its letters."""
    event(db, "c1", "north", T, REF_A, name="欧 阳 建 国")
    event(db, "c1", "north", T + 60, REF_A, name="欧**国")
    rows = tracing.timeline(db, REF_A, tracing.Window.last_days(NOW, 14, 28))
    assert [shown(r["name"]) for r in rows] == ["欧阳", "欧国"]


def test_the_hubs_and_gates_own_masking_keeps_at_most_two_letters_of_a_spaced_name():
    """D10 on the compound's own screens and logs too (mask_name, gatehouse/privacy.py)."""
    from gatehouse.privacy import mask_name
    assert mask_name("欧 阳 建 国") == "欧 阳 * *"
    assert mask_name("欧* 阳* 建* 国*") == "欧* 阳* ** **"
    assert (mask_name("张三丰"), mask_name("John Smith")) == ("张*丰", "J*** S****")
