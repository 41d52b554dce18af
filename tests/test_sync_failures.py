"""Failures with real processes: kill -9 a gate, stop the broker, kill -9 the hub.
Every event a gate logged reaches the hub exactly once."""
import re
import sqlite3
import time
import uuid

import pytest

from demo.scenes import phone_frame, showing, write_frames
from gatehouse.bundle import seal, unseal
from gatehouse.codes import Colour
from gatehouse.db import write_transaction
from gatehouse.events import EventKind
from gatehouse.policy import BuildingStatus
from kiosk.attempt_log import AttemptLog
from tests.conftest import HOUR, resident_ids
from tests.processes import hub_process, kiosk_process, wait_until


def serving(hub):
    """The hub once it serves: a new hub's first subscription is not there before, and a
    gate's first batches sent then wait the link's resend time (20 s) to go again."""
    wait_until(lambda: "hub serving" in hub.output() or not hub.running(), 30,
               message="hub serve")
    assert hub.running(), hub.output()
    return hub


@pytest.fixture
def world(compound, authority, broker_proc, gate_home, tmp_path):
    """A hub process, a registered gate with a finite burst on its camera."""
    now = int(time.time())
    texts = []
    for n, pid in enumerate(resident_ids(6)):
        texts.append(compound.issue_pass(pid, f"居民{n}", "7", str(100 + n), now - 86400))
        texts.append(authority.health(pid, Colour.GREEN, now - HOUR, now - 20 * HOUR))
    compound.publish(now)
    home = gate_home("gate-1")
    home.kiosk.mkdir(parents=True, exist_ok=True)
    camera = write_frames(tmp_path / "burst", showing(*(texts * 3), frames_each=2, gap=1))
    hub = serving(hub_process(compound.home, tmp_path / "hub.log").start())

    class World:
        pass
    w = World()
    w.compound, w.home, w.hub, w.broker, w.tmp = compound, home, hub, broker_proc, tmp_path
    w.camera = f"file:{camera}?fps=30"
    w.kiosks = []

    def kiosk(**env):
        k = kiosk_process(home, w.camera, tmp_path / f"kiosk{len(w.kiosks)}.log",
                          cooldown_s=0.3, attempt_window_s=1, **env).start()
        w.kiosks.append(k)
        return k
    w.kiosk = kiosk
    yield w
    for k in w.kiosks:
        k.stop()
    hub.stop()


def backlog(home, n: int) -> None:
    """n exit-button events in the gate's log and outbox, as if logged offline."""
    store = AttemptLog(home.kiosk_db)
    with write_transaction(store.db):
        start = store.outbox.last_seq() + 1
        rows = [{"seq": start + i, "id": uuid.uuid4().hex, "kind": EventKind.EXIT_REQUEST.value,
                 "payload": "{}", "created_at": time.time(), "acked_at": None}
                for i in range(n)]
        store.db["outbox"].insert_all(rows, batch_size=5000)
    store.close()


def kiosk_rows(home, sql):
    db = sqlite3.connect(home.kiosk_db)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def kiosk_attempts(home) -> int:
    try:
        return kiosk_rows(home, "select count(*) from attempts")[0][0]
    except sqlite3.OperationalError:  # the kiosk has not created its log yet
        return 0


def kiosk_backlog(home) -> int:
    return kiosk_rows(home, "select count(*) from outbox where acked_at is null")[0][0]


def hub_ids(compound) -> list[str]:
    db = sqlite3.connect(compound.home.hub_db)
    try:
        return [r[0] for r in db.execute("select id from gate_events where gate = 'gate-1'")]
    finally:
        db.close()


def assert_exactly_once(w) -> None:
    """Wait until the gate's outbox is drained, then compare both sides row by row."""
    wait_until(lambda: kiosk_backlog(w.home) == 0, 60, 0.2, "the outbox to drain")
    outbox = {r[0] for r in kiosk_rows(w.home, "select id from outbox")}
    ids = hub_ids(w.compound)
    assert len(ids) == len(set(ids)) == len(outbox)   # each stored once…
    assert set(ids) == outbox                          # …and every one of them


def burst_done(w, k) -> None:
    """The camera has played to its end (the kiosk logs it) and every attempt is logged:
    none for longer than the attempt window (1 s here), in which a last code waits for
    its pair."""
    wait_until(lambda: re.search(r"camera \S+ ended", k.output()), 60, 0.2,
               "the burst to end")
    last = [-1, time.monotonic()]

    def quiet():
        n = kiosk_attempts(w.home)
        if n != last[0]:
            last[:] = [n, time.monotonic()]
        return time.monotonic() - last[1] > 1.5
    wait_until(quiet, 60, 0.2, "the last attempt to be logged")


def test_kill_9_a_gate_mid_burst(world):
    k = world.kiosk()
    wait_until(lambda: kiosk_attempts(world.home) >= 5, 30, message="attempts")
    k.kill()
    k2 = world.kiosk()
    burst_done(world, k2)
    assert_exactly_once(world)


def test_broker_stopped_during_a_burst(world):
    k = world.kiosk()
    wait_until(lambda: kiosk_attempts(world.home) >= 4, 30, message="attempts")
    world.broker.stop()
    time.sleep(2)
    world.broker.start()
    burst_done(world, k)
    assert_exactly_once(world)


def test_kill_9_the_hub_during_ingest(world):
    backlog(world.home, 10_000)  # so that the hub is busy when it dies (killed at > 2,000)
    k = world.kiosk()
    wait_until(lambda: len(hub_ids(world.compound)) > 2000, 60, message="ingest under way")
    world.hub.kill()
    world.hub.start()
    burst_done(world, k)
    assert_exactly_once(world)


def test_back_online_a_gate_refuses_exits_from_a_sealed_building_before_its_backlog(
        compound, authority, broker_proc, gate_home, tmp_path):
    now = int(time.time())
    pid = resident_ids(6)[0]
    pass_text = compound.issue_pass(pid, "张三丰", "7", "302", now - 86400)
    home = gate_home("gate-1")
    old = compound.publish(now)  # the gate ran with this bundle before it went offline
    home.kiosk.mkdir(parents=True, exist_ok=True)
    (home.kiosk_bundle).write_bytes(seal(old, compound.key))
    # What it logged while the network was down: enough to take seconds to drain. The
    # order is checked below by time (the new bundle written before the last ack), which
    # a gate sending its backlog first fails at any size.
    backlog(home, 20_000)
    compound.set_building("7", BuildingStatus.SEALED, now)  # sealed while it was away
    hub = serving(hub_process(compound.home, tmp_path / "hub.log").start())
    blank = phone_frame(None)
    camera = write_frames(tmp_path / "exit", [blank] * 30 + [phone_frame(pass_text)] * 4
                          + [blank] * 10)
    k = kiosk_process(home, f"file:{camera}?fps=15", tmp_path / "kiosk.log",
                      direction="out", attempt_window_s=1).start()
    try:
        wait_until(lambda: kiosk_attempts(home) >= 1, 30, message="the exit attempt")
        outcome, reasons, at = kiosk_rows(home, "select outcome, reasons, at from attempts")[0]
        assert outcome == "refuse" and "BUILDING_SEALED" in reasons
        wait_until(lambda: kiosk_backlog(home) == 0, 60, 0.2, "the backlog to drain")
        drained = kiosk_rows(home, "select max(acked_at) from outbox")[0][0]
        sealed_at = home.kiosk_bundle.stat().st_mtime  # written when the new bundle came
        assert unseal(home.kiosk_bundle.read_bytes(), compound.hub_trusted_key()).version \
            > old.version
        assert sealed_at < drained, "the sealed building arrived after the backlog"
    finally:
        k.stop()
        hub.stop()
