"""Found by an attacking review (s4, docs/security.md): the alert cursor (meta alert_delivery.cursor, alert_topic.cursor) is an
alerts.id, but alerts is `id integer primary key` without AUTOINCREMENT: once the nightly
purge has emptied the table (a quiet month, 28 days' retention), SQLite hands out id 1
again, every new alert is <= the cursor, and nothing reaches WeCom/DingTalk/SMS (nor the
MQTT alert topic) until the ids climb past the old cursor."""
from __future__ import annotations

from hub import retention
from hub.alert_kinds import AlertKind
from tests.test_alert_delivery import T, db, deliver, raise_alert, robot, routes  # noqa: F401

DAY = 86400


def test_alerts_after_a_purge_emptied_the_table_are_still_sent(db, robot):  # noqa: F811
    rules = routes(robot)
    deliver(db, rules, T)
    for i in range(5):
        raise_alert(db, T + i)
    deliver(db, rules, T + 120)
    assert len(robot.of("wecom")) == 1                  # the cursor is now 5
    later = T + 40 * DAY                                # a quiet month, then the purge
    retention.purge(db, later, 28)
    assert db.execute("select count(*) from alerts").fetchone()[0] == 0
    raise_alert(db, later + 10, AlertKind.DOOR_FORCED)  # a forced door: id 1 again
    deliver(db, rules, later + 20)
    deliver(db, rules, later + 100)
    assert len(robot.of("wecom")) == 2, "the forced door never left the hub"


def test_the_alert_topic_publishes_alerts_after_a_purge_emptied_the_table(db):  # noqa: F811
    from hub import alert_topic
    got = []
    alert_topic.publish_new(db, lambda t, raw: got.append(raw) or True, T)
    for i in range(5):
        raise_alert(db, T + i)
    assert alert_topic.publish_new(db, lambda t, raw: got.append(raw) or True, T + 10) == 5
    later = T + 40 * DAY
    retention.purge(db, later, 28)
    raise_alert(db, later + 10, AlertKind.DOOR_FORCED)
    assert alert_topic.publish_new(db, lambda t, raw: got.append(raw) or True, later + 20) == 1


def test_the_migration_knows_every_alert_cursor():
    from hub import alert_delivery, alert_topic, schema
    assert set(schema.ALERT_CURSORS) == {alert_delivery.CURSOR, alert_topic.CURSOR}
