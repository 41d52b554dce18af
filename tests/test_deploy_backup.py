"""Backups of the hub database taken while `hub serve` ingests a stream of events:
each is a consistent, checked snapshot; restore checks first, refuses while the hub
runs, and brings back exactly the backup (migrated), keeping the old database aside."""
import sqlite3
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse import topics
from gatehouse.endpoint import Endpoint
from gatehouse.events import Event, EventBatch, EventKind
from gatehouse.net import close_client
from hub import backup
from tests.processes import BIN, hub_process, wait_until

BATCH = 50
MIN_BATCHES = 80     # the stream goes on at least this long, and until the backups are made
BACKUPS = 4          # taken while it streams; --keep 3 keeps the newest three


def seqs(db_path) -> list[int]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute(
            "select seq from gate_events where gate = 'gate-1' and kind = 'exit_request' "
            "order by seq")]
    finally:
        con.close()


def hub(*args, check=True):
    return subprocess.run([BIN / "hub", *map(str, args)], capture_output=True, text=True,
                          timeout=60, check=check)


class Flood(threading.Thread):
    """A gate sending batches of BATCH events, QoS 1, in order, steadily, until `done` is
    set (and at least MIN_BATCHES): every backup is taken while events stream in, however
    long a `hub backup` takes to start on a loaded machine."""

    def __init__(self, ep: Endpoint):
        super().__init__(daemon=True)
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gate-1-flood",
                             protocol=mqtt.MQTTv5)
        self.c.username_pw_set(ep.username, ep.password)
        self.c.max_inflight_messages_set(100)
        self.c.connect(ep.host, ep.port)
        self.c.loop_start()
        self.sent = 0
        self.done = threading.Event()

    def run(self):
        infos = []
        b = 0
        while b < MIN_BATCHES or not self.done.is_set():
            events = [Event(seq=b * BATCH + i + 1, id=uuid.uuid4().hex,
                            kind=EventKind.EXIT_REQUEST, at=time.time(), payload={})
                      for i in range(BATCH)]
            batch = EventBatch(gate="gate-1", sent_at=time.time(), events=events)
            infos.append(self.c.publish(topics.gate_events("gate-1"),
                                        batch.model_dump_json().encode(), qos=1))
            self.sent += BATCH
            b += 1
            time.sleep(0.04)
        for info in infos:
            info.wait_for_publish(10)

    def close(self):
        close_client(self.c)


@pytest.fixture
def running_hub(compound, broker_proc, gate_home, tmp_path):
    home = gate_home("gate-1")
    proc = hub_process(compound.home, tmp_path / "hub.log").start()
    wait_until(lambda: "hub serving" in proc.output(), 15, message="hub serve")
    yield proc, Endpoint.read(home.kiosk_mqtt)
    proc.stop()


def test_backups_under_load_are_consistent_and_restore_exactly(compound, running_hub,
                                                               tmp_path):
    proc, ep = running_hub
    home = compound.home
    flood = Flood(ep)
    flood.start()
    try:
        made = []
        wait_until(lambda: len(seqs(home.hub_db)) > 0, 15, message="first events")
        while len(made) < BACKUPS:
            made.append(hub("backup", "--home", home.root, "--keep", "3").stdout.strip())
            time.sleep(0.3)
        flood.done.set()
        flood.join(60)
        assert not flood.is_alive(), "the stream did not end"
    finally:
        flood.done.set()
        flood.close()
    total = flood.sent
    # Nothing lost from the live database while the backups ran.
    wait_until(lambda: len(seqs(home.hub_db)) == total, 30, message="every event at the hub")
    kept = backup.backups(home.hub / "backups")
    assert [str(p) for p in kept] == made[-3:]      # --keep 3: the newest three
    previous = 0
    assert 0 < len(seqs(kept[0])) < total, "taken while the events streamed in"
    for path in kept:
        assert backup.integrity(path) == "ok"
        got = seqs(path)
        # A snapshot of one moment: whole batches only, in order, no gaps.
        assert got == list(range(1, len(got) + 1)) and len(got) % BATCH == 0
        assert len(got) >= previous
        previous = len(got)
    # Restore: refused while `hub serve` holds the database, then exact once it stopped.
    refused = hub("restore", "--home", home.root, kept[-1], check=False)
    assert refused.returncode == 1 and "hub serve" in refused.stderr
    proc.stop()
    compound.db.close()
    out = hub("restore", "--home", home.root, kept[-1]).stdout
    assert seqs(home.hub_db) == seqs(kept[-1])
    assert backup.integrity(home.hub_db) == "ok"
    aside = next(p for p in (home.hub / "backups").iterdir()
                 if p.name.startswith("before-restore-"))
    assert str(aside) in out and len(seqs(aside)) == total   # the old one is kept aside


def test_restore_refuses_a_damaged_file_and_migrates_an_old_one(compound, tmp_path):
    home = compound.home
    compound.db["meta"].upsert({"key": "marker", "value": "before"}, pk="key")
    first = backup.backup(home.hub_db, tmp_path / "b")
    damaged = tmp_path / "damaged.db"
    data = bytearray(first.read_bytes())
    data[4096:8192] = b"\xff" * 4096
    damaged.write_bytes(bytes(data))
    r = hub("restore", "--home", home.root, damaged, check=False)
    assert r.returncode == 1 and "nothing was changed" in r.stderr
    r = hub("restore", "--home", home.root, tmp_path / "nope.txt", check=False)
    assert r.returncode != 0
    # An "old" backup: made before the deployment tables existed.
    con = sqlite3.connect(first)
    con.execute("drop table enrollments")
    con.execute("delete from _sqlite_migrations where migration_set = 'gatehouse.hub.deploy'")
    con.commit()
    con.close()
    compound.db["meta"].upsert({"key": "marker", "value": "after"}, pk="key")
    compound.db.close()
    hub("restore", "--home", home.root, first)
    con = sqlite3.connect(home.hub_db)
    assert con.execute("select value from meta where key = 'marker'").fetchone() == ("before",)
    assert con.execute("select count(*) from enrollments").fetchone() == (0,)
    con.close()
    assert "nothing" in hub("migrate", "--home", home.root).stdout


def test_migrate_applies_what_is_missing(compound):
    compound.db.execute("drop table enrollments")
    compound.db.execute("delete from _sqlite_migrations where migration_set = ?",
                        ["gatehouse.hub.deploy"])
    compound.db.conn.commit()
    compound.db.close()
    out = hub("migrate", "--home", compound.home.root).stdout
    assert "gatehouse.hub.deploy:m001_enrollments" in out and "pre-migrate-" in out
