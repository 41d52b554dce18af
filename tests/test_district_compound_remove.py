"""`district compound remove`: on a running one-machine district (`district run`: its
PostgreSQL, broker node and workers), a compound's login goes at once (its bridge is cut
off and cannot log in again), its events stay until the retention drops them, its
pending orders are no longer sent and no new one is made, the page says removed, and
the removal is audited; another compound is untouched; added again, it belongs again."""
from __future__ import annotations

import signal
import sys
import threading

import paho.mqtt.client as mqtt
from click.testing import CliRunner

from district import orders, retention
from district.cli import main
from district.db import connect
from district.web import WebConfig, accounts, create_app
from gatehouse.processes import LOOPBACK, Process, wait_until
from tests.test_district_worker_run import T0, feed, stored

pytest_plugins = ["tests.district_fixtures"]
DAY = 86400


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


class Bridge:
    """A compound's MQTT login, as its Mosquitto bridge would use it."""

    def __init__(self, port: int, cid: str, password: str):
        self.refused = threading.Event()
        self.gone = threading.Event()
        c = self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bridge-{cid}")
        c.username_pw_set(cid, password)
        c.on_connect = lambda _c, _u, _f, rc, _p: self.refused.set() if rc.is_failure else None
        c.on_disconnect = lambda *a: self.gone.set()
        c.connect(LOOPBACK, port)
        c.loop_start()

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def test_a_removed_compound_loses_its_login_and_keeps_its_data_until_retention(
        district_home, tmp_path):
    home = str(district_home.root)
    cli("compound", "add", "c1", "--home", home)
    cli("compound", "add", "c2", "--home", home)
    password = district_home.secrets()["compounds"]["c1"]
    cfg = district_home.config()
    run = Process([sys.executable, "-m", "district.cli", "run", "--home", home],
                  tmp_path / "run.log").start()
    bridges: list[Bridge] = []
    try:
        wait_until(lambda: "ready" in run.output() or not run.running(), 90,
                   message="district run to be ready")
        assert run.running(), run.tail()
        dsn = district_home.dsn()
        c1 = Bridge(cfg.mqtt_port, "c1", password)
        c2 = Bridge(cfg.mqtt_port, "c2", district_home.secrets()["compounds"]["c2"])
        bridges += [c1, c2]
        c1.c.publish("district/c1/gatehouse/hub/district/feed", feed("c1", 10), qos=1)
        wait_until(lambda: stored(dsn, "c1") == 10, 30, 0.1, "c1's events stored")
        cli("order", "seal", "c1", "7", "--home", home, "--by", "office")   # never reported

        out = cli("compound", "remove", "c1", "--home", home, "--by", "wang")
        assert "broker login is gone" in out and "reloaded" in out
        assert "10 events" in out and "1 pending order(s) withdrawn" in out
        assert "bridge-c1.conf" in out and "restart gatehouse-broker" in out
        assert "c1" not in district_home.secrets()["compounds"]
        # Its bridge is cut off and cannot log in again; c2 goes on.
        wait_until(c1.gone.is_set, 20, message="c1's connection closed by the reload")
        again = Bridge(cfg.mqtt_port, "c1", password)
        bridges.append(again)
        wait_until(lambda: again.refused.is_set() or again.gone.is_set(), 20,
                   message="c1's login refused")
        assert not again.c.is_connected()
        c2.c.publish("district/c2/gatehouse/hub/district/feed", feed("c2", 3), qos=1)
        wait_until(lambda: stored(dsn, "c2") == 3, 30, 0.1, "c2's events stored")
        with connect(dsn, dicts=True) as conn:
            # Its data kept; its pending order no longer sent; no new one.
            assert stored(dsn, "c1") == 10
            assert conn.execute("select removed_at from compounds where id = 'c1'"
                                ).fetchone()["removed_at"] is not None
            assert [x.compound for x in orders.pending_lists(conn, "d1")] == []
            assert conn.execute("select status from orders where compound = 'c1'"
                                ).fetchone()["status"] == "withdrawn"
            [row] = conn.execute("select actor, role, target, detail from audit "
                                 "where action = 'compound.remove'").fetchall()
            assert (row["actor"], row["target"]) == ("wang", "c1")
            assert row["detail"] == {"login_removed": True, "known": True,
                                     "events_kept": 10, "pending_orders": 1}
            accounts.add_user(conn, "obs", "correct horse battery", "observer", T0)
        assert "removed from the district: c1" in cli("order", "seal", "c1", "7", "--home",
                                                      home, code=1)
        # The page says so, and offers it no more orders.
        app = create_app(WebConfig(dsn=dsn, district_id="d1", home=district_home,
                                   secret_key=b"k" * 32, hosts=("localhost",),
                                   retention_days=28))
        page = _signed_in(app)
        assert 'data-test="removed"' in page.get("/").get_data(as_text=True)
        assert 'data-test="removed"' in page.get("/compound/c1").get_data(as_text=True)
        assert 'value="c1"' not in page.get("/orders").get_data(as_text=True)
        # Removing an unknown compound changes nothing but is said.
        assert "no compound nope" in cli("compound", "remove", "nope", "--home", home, code=1)
        # The retention drops its events with everyone's, then forgets the compound.
        with connect(dsn) as conn:
            today = float(conn.execute("select extract(epoch from now())").fetchone()[0])
            retention.drop_old(conn, 28, now=today + DAY)
            assert stored(dsn, "c1") == 10 and conn.execute(
                "select count(*) from compounds where id = 'c1'").fetchone()[0] == 1
            retention.drop_old(conn, 28, now=today + 29 * DAY)
            assert stored(dsn, "c1") == 0
            assert conn.execute("select count(*) from compounds where id = 'c1'"
                                ).fetchone()[0] == 0
            assert conn.execute("select count(*) from compound_ranges where compound = 'c1'"
                                ).fetchone()[0] == 0
            assert conn.execute("select count(*) from audit where action = "
                                "'compound.remove'").fetchone()[0] == 2   # + nope
        # Added again: a login, and it belongs again (audited).
        assert "may log in" in cli("compound", "add", "c1", "--home", home)
        cli("compound", "remove", "c2", "--home", home)
        assert "it belongs again" in cli("compound", "add", "c2", "--home", home)
        with connect(dsn) as conn:
            assert conn.execute("select removed_at from compounds where id = 'c2'"
                                ).fetchone()[0] is None
            assert [r[0] for r in conn.execute(
                "select action from audit where target = 'c2' order by id")] == \
                ["compound.remove", "compound.add"]
    finally:
        for b in bridges:
            b.close()
        code = run.stop(signal.SIGTERM, timeout=60)
    assert code == 0, run.tail()


def _signed_in(app):
    import re
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "obs", "password": "correct horse battery",
                                       "csrf": token}).status_code == 302
    return client


def test_a_compound_removed_before_it_ever_sent_is_marked_and_takes_no_orders(district_dsn):
    """Review R4 (session 6): added, never linked, removed: no row in compounds, so it
    was never marked and an order for it stayed pending for ever."""
    from district import compounds
    from gatehouse.codes.keys import SigningKey
    from gatehouse.district_wire import OrderKind
    now = T0 + DAY
    with connect(district_dsn) as conn:
        gone = compounds.remove(conn, "c9", "wang", now, login_removed=True)
        assert gone.known is False
        assert conn.execute("select removed_at is not null from compounds where id = 'c9'"
                            ).fetchone()[0]
        try:
            orders.create_many(conn, SigningKey.generate(), "d1", ["c9"], OrderKind.SEAL,
                               "office", building="7", now=now)
        except ValueError as exc:
            assert "removed" in str(exc)
        else:
            raise AssertionError("an order was made for a compound removed from the district")
        # An id with neither login nor row is only audited: no row is made for it.
        compounds.remove(conn, "never", "wang", now, login_removed=False)
        assert conn.execute("select count(*) from compounds where id = 'never'"
                            ).fetchone()[0] == 0
