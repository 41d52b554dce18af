"""`hub serve` talks to systemd itself (gatehouse-hub.service has Type=notify and
WatchdogSec=): READY once it runs, WATCHDOG=1 from its working loop only while its
parts are healthy, STOPPING on SIGTERM."""
import os
import queue
import threading
import time

from hub.app_serve import watch as _watch
from hub.sync import SyncHealth
from tests.processes import BIN, Process, wait_until
from tests.test_deploy_units import Systemd


def test_hub_serve_is_ready_and_pings_from_its_loop(compound, broker_proc, tmp_path):
    s = Systemd(tmp_path / "notify")
    hub = Process([BIN / "hub", "serve", "--home", compound.home.root], tmp_path / "hub.log",
                  {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "3000000"})
    hub.start()
    try:
        got: list[str] = []
        wait_until(lambda: got.extend(s.take()) or got.count("WATCHDOG=1") >= 2 or
                   not hub.running(), 30, message="two watchdog pings")
        assert hub.running(), hub.output()
        assert got[0].startswith("READY=1")
        assert any(m.startswith("STATUS=connected") for m in got), got
    finally:
        assert hub.stop() == 0, hub.output()
    got = s.take()
    assert "STOPPING=1" in got, (got, hub.output())
    s.close()


class FakeSync:
    def __init__(self):
        self._threads = [threading.Thread(target=time.sleep, args=(30,), daemon=True)]
        self._threads[0].start()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.ingested = 0
        self.connected = threading.Event()

    def health(self) -> SyncHealth:   # HubSync's, from these threads and this inbox
        return SyncHealth(dead=[t.name for t in self._threads if not t.is_alive()],
                          ingested=self.ingested, waiting=self._inbox.qsize(),
                          connected=self.connected.is_set())


def test_a_dead_thread_or_a_lost_database_stops_the_pings(compound, tmp_path, monkeypatch):
    s = Systemd(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "600000")   # a pass every 0.2 s
    sync, stop = FakeSync(), threading.Event()
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    worker = type("W", (), {"name": "parcel-timers", "is_alive": dead.is_alive})()
    loop = threading.Thread(target=_watch, args=(sync, [worker], compound.home.hub_db, stop))
    loop.start()
    time.sleep(1.5)
    stop.set()
    loop.join(5)
    got = s.take()
    assert got[0].startswith("READY=1") and "WATCHDOG=1" not in got
    assert any("not healthy: thread" in m for m in got), got
    # Healthy threads but no database: no pings either.
    monkeypatch.setenv("WATCHDOG_USEC", "600000")
    stop = threading.Event()
    loop = threading.Thread(target=_watch, args=(sync, [], tmp_path / "gone" / "hub.db", stop))
    loop.start()
    time.sleep(1.5)
    stop.set()
    loop.join(5)
    got = s.take()
    assert "WATCHDOG=1" not in got and any("not healthy: database" in m for m in got), got
    # And healthy: pings.
    stop = threading.Event()
    loop = threading.Thread(target=_watch, args=(sync, [], compound.home.hub_db, stop))
    loop.start()
    time.sleep(1.5)
    stop.set()
    loop.join(5)
    assert "WATCHDOG=1" in s.take()
    s.close()
    assert os.environ["NOTIFY_SOCKET"]
