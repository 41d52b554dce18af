"""The hub's one list of migration sets (hub/schema.py): order and names are what
databases in the field have recorded, so they never change."""
import sqlite_utils

from hub import schema

# (set, migrations in the order they run): a new migration goes at the end of its set.
RELEASED = [
    ("gatehouse.hub", ["m001_foundation", "m002_sync", "m003_volunteers", "m010_web",
                       "m004_roster", "m005_gate_role", "m006_gate_usage",
                       "m007_login_device", "m008_alert_ids_never_reused",
                       "m009_district_link", "m011_district_feed_without_event_index"]),
    ("gatehouse.hub.deploy", ["m001_enrollments"]),
    ("gatehouse.hub.parcels", ["m001_parcels", "m002_shelves", "m003_slot_occupant",
                               "m004_code_index", "m005_reopen_mark"]),
    ("gatehouse.hub.groupbuy", ["m001_groupbuy"]),
    ("gatehouse.hub.notify", ["m001_notifications"]),
]


def test_the_released_migrations_keep_their_names_and_order():
    listed = [(s.name, [m.name for m in s.pending(sqlite_utils.Database(memory=True))])
              for s in schema.MIGRATION_SETS]
    assert [name for name, _ in listed][:len(RELEASED)] == [name for name, _ in RELEASED]
    for (_, got), (_, want) in zip(listed, RELEASED):
        assert got[:len(want)] == want


def test_a_new_database_records_every_migration_and_reopening_applies_none(tmp_path):
    db = schema.open_db(tmp_path / "hub.db")
    recorded = [(r["migration_set"], r["name"])
                for r in db.query("select migration_set, name from _sqlite_migrations "
                                  "order by rowid")]
    db.close()
    assert recorded == [(s, n) for s, names in RELEASED for n in names]
    again = schema.open_db(tmp_path / "hub.db")
    assert again.execute("select count(*) from _sqlite_migrations").fetchone()[0] == \
        len(recorded)


def _gate_event(db, n: int) -> None:
    db.execute("insert into gate_events (id, gate, seq, kind, at, received_at, payload) "
               "values (?, 'g1', ?, 'attempt', 1.7e9, 1.7e9, '{}')", [f"e{n}", n])


def test_the_district_feed_keeps_its_numbers_without_the_event_index(tmp_path):
    """m011 rebuilt the feed without its unique index on the event id (it halved the hub's
    ingest): every gate event still gets the next number, none is given out twice, even
    after the highest ones were pruned and the table rebuilt."""
    db = schema.open_db(tmp_path / "hub.db")
    for n in range(1, 6):
        _gate_event(db, n)
    db.execute("delete from district_feed where cseq >= 4")     # pruned once acked
    db.conn.commit()
    schema.m011_district_feed_without_event_index(db)           # as on an older database
    _gate_event(db, 6)
    rows = db.execute("select cseq, event_id from district_feed order by cseq").fetchall()
    assert rows == [(1, "e1"), (2, "e2"), (3, "e3"), (6, "e6")]
    assert not [i for i in db.execute("pragma index_list(district_feed)").fetchall()
                if i[2]], "a unique index on the feed again"
