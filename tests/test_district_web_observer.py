"""What the health authority (an observer) sees of person references at the district:
never a whole one, on the tracing page, in its links and form, in the exports or the
audit log, whether it typed the reference, an ID number or followed a contact; the
street office's admins see them as before (and unmask, audited)."""
from __future__ import annotations

import io
import re

import openpyxl

from district.web import BINDING_KEY_FILE
from gatehouse.identity import person_ref
from tests.test_district_tracing import REF_A, REF_B, REF_C, REF_D, T, event  # noqa: F401
from tests.test_district_tracing import db, street  # noqa: F401 (fixtures)
from tests.test_district_web import ID_NUMBER, audit, web_config, app, as_user  # noqa: F401

pytest_plugins = ["tests.district_fixtures"]
WHOLE = (REF_A, REF_B, REF_C, REF_D)


def no_whole_ref(text: str) -> bool:
    return not any(ref in text for ref in WHOLE)


def links(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html)
            if "/tracing" in h]


def test_an_observer_sees_short_references_on_the_page_and_in_every_link(as_user, db):  # noqa: F811
    client = as_user("observer")
    html = client.get(f"/tracing?who={REF_A}&minutes=15").get_data(as_text=True)
    assert no_whole_ref(html), [r for r in WHOLE if r in html]
    assert f'<h2 id="who">{REF_A[:6]}…' in html and REF_B[:6] + "…" in html
    # Its links name the person by an event; they lead to the same person, and to the
    # same whole reference in the audit (the admins read it).
    exports = [u for u in links(html) if "/export" in u]
    assert len(exports) == 3 and all("via=" in u and "who=" not in u for u in exports)
    for url in exports:
        resp = client.get(url)
        assert resp.status_code == 200
        if url.split("?")[0].endswith(".csv"):
            assert no_whole_ref(resp.get_data(as_text=True))
        else:
            book = openpyxl.load_workbook(io.BytesIO(resp.data))
            cells = " ".join(str(c.value) for s in book.worksheets for row in s.iter_rows()
                             for c in row)
            assert no_whole_ref(cells) and REF_B[:6] + "…" in cells
        assert REF_A not in resp.headers["Content-Disposition"]
    assert [(r["action"], r["target"]) for r in audit(db, "trace.")] == \
        [("trace.view", REF_A)] + [("trace.export", REF_A)] * 3
    # The form keeps the person for other days by the event, not by the reference.
    again = re.search(r'name="via" value="([^"]+)"', html).group(1)
    html = client.get(f"/tracing?via={again}&days=3&minutes=60").get_data(as_text=True)
    assert no_whole_ref(html) and audit(db, "trace.")[-1]["target"] == REF_A


def test_an_observer_following_a_contact_never_sees_their_whole_reference(as_user, db):  # noqa: F811
    client = as_user("observer")
    html = client.get(f"/tracing?who={REF_A}&minutes=15").get_data(as_text=True)
    # B's event at c2 (its link names compound/event id; a random event id may hold
    # "c2" too: CI once followed D's link at c1 that way).
    follow = next(u for u in links(html) if "/export" not in u
                  and re.search(r"via=c2(/|%2F)", u))
    html = client.get(follow).get_data(as_text=True)
    assert no_whole_ref(html) and REF_A[:6] + "…" in html
    assert audit(db, "trace.")[-1]["target"] == REF_B


def test_an_id_number_takes_an_observer_to_the_person_without_their_reference(  # noqa: F811
        as_user, web_config, db):
    key = b"b" * 32
    (web_config.home.root / BINDING_KEY_FILE).write_bytes(key)
    ref = person_ref(key, ID_NUMBER).hex()
    event(db, "c1", "north", T + 60, ref)
    client = as_user("observer")
    resp = client.get(f"/tracing?who={ID_NUMBER}&days=14")
    where = resp.headers["Location"]
    assert resp.status_code == 302 and ID_NUMBER not in where and ref not in where
    html = client.get(where).get_data(as_text=True)
    assert ref not in html and ref[:6] + "…" in html and "north" in html
    assert audit(db, "trace.")[-1]["target"] == ref
    # Nobody by that number in the window: said so, the look-up audited, nothing shown.
    resp = client.get("/tracing?who=11010519491231002X&days=14")
    assert resp.status_code == 302 and "via" not in resp.headers["Location"]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "没有记录 no records of that person" in html
    assert audit(db, "trace.")[-1]["detail"]["events"] == 0


def test_the_audit_log_shows_an_observer_short_references_and_an_admin_whole_ones(  # noqa: F811
        as_user):
    observer, admin = as_user("observer"), as_user("admin")
    observer.get(f"/tracing?who={REF_A}")
    admin.get(f"/tracing?who={REF_B}")
    for url in ("/audit", "/audit.csv"):
        seen = observer.get(url).get_data(as_text=True)
        assert no_whole_ref(seen) and REF_A[:6] + "…" in seen and REF_B[:6] + "…" in seen
        seen = admin.get(url).get_data(as_text=True)
        assert REF_A in seen and REF_B in seen


def test_an_admin_sees_the_whole_reference_traced_and_unmasks_the_rest(as_user, db):  # noqa: F811
    admin = as_user("admin")
    html = admin.get(f"/tracing?who={REF_A}&minutes=15").get_data(as_text=True)
    assert f'<h2 id="who">{REF_A}' in html and REF_B not in html
    assert all("who=" + REF_A in u for u in links(html) if "/export" in u)
    html = admin.post("/tracing/unmask", data={"who": REF_A, "minutes": "15",
                                               "csrf": admin.csrf}).get_data(as_text=True)
    assert REF_B in html
