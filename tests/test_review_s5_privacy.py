"""Review s5: what of a person's name leaves the compound in its district feed (the hub's
real ingest and feed on real SQLite)."""
from __future__ import annotations

import time

from hub import district_feed
from hub.ingest import ingest
from tests.test_hub_district import attempt, batch, setup

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
           policy)
    got = [e.name for e in district_feed.next_events(db, 0, time.time())]
    assert all(len(shown(n)) <= 2 and len(shown(n)) < len(n.replace(" ", "")) for n in got
               ), got
    assert got[4:] == ["欧**国", "J*** S****", "张*丰"]      # real masks unchanged
    assert (shown(got[0]), shown(got[1]), shown(got[2])) == ("欧阳", "欧阳", "王")
