"""The hub's one periodic worker (hub/periodic.py)."""
import threading

from hub.periodic import Periodic


def test_a_failed_pass_does_not_end_the_worker():
    passes = []
    twice = threading.Event()

    def job(now):
        passes.append(now)
        if len(passes) >= 2:
            twice.set()
        raise RuntimeError("a locked database")

    worker = Periodic("t", job, 0.01, clock=lambda: 1.0).start()
    assert twice.wait(5) and worker.is_alive()
    worker.stop()
    assert not worker.is_alive()


def test_a_job_with_a_due_time_runs_only_once_it_is_due():
    clock = [100.0]
    ran = []
    worker = Periodic("n", ran.append, 0.01, clock=lambda: clock[0],
                      due=lambda now: now + 50)
    assert worker.due == 150
    worker._pass(None)
    assert ran == []
    clock[0] = 151.0
    worker._pass(None)
    worker._pass(None)
    assert ran == [151.0] and worker.due == 201.0


def test_with_a_database_the_job_gets_its_own_connection(tmp_path):
    seen = threading.Event()
    got = []

    def job(db, now):
        got.append(db.execute("select count(*) from _sqlite_migrations").fetchone()[0])
        seen.set()

    worker = Periodic("db", job, 10, db_path=tmp_path / "hub.db", wait_first=False).start()
    assert seen.wait(5)
    worker.stop()
    assert got and got[0] > 0
