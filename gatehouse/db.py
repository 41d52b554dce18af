"""SQLite helpers both sides use."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlite_utils


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A transaction that takes the write lock at BEGIN.

    With two connections on one WAL file (the gate loop and the hub link; the hub's
    writer and its commands), a deferred transaction that reads and then writes can
    fail at once with "database is locked" when the other side committed in between:
    SQLite cannot wait there. BEGIN IMMEDIATE waits (busy_timeout) instead.
    """
    if db.conn.in_transaction:
        with db.atomic():  # nested: a savepoint
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")
