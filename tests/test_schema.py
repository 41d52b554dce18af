"""The hub's one list of migration sets (hub/schema.py): order and names are what
databases in the field have recorded, so they never change."""
import sqlite_utils

from hub import schema

# (set, migrations in the order they run): a new migration goes at the end of its set.
RELEASED = [
    ("gatehouse.hub", ["m001_foundation", "m002_sync", "m003_volunteers", "m010_web",
                       "m004_roster", "m005_gate_role", "m006_gate_usage",
                       "m007_login_device", "m008_alert_ids_never_reused",
                       "m009_district_link"]),
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
