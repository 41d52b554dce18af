"""The district's one door to PostgreSQL (psycopg 3): every module connects here.

Connections are in autocommit mode and every write is inside an explicit
`with conn.transaction():`, so a step that must commit on its own (a new day partition)
is never silently a savepoint of a transaction left open by an earlier read."""
from __future__ import annotations

import psycopg
from psycopg.rows import dict_row, tuple_row


def connect(dsn: str, *, dicts: bool = False,
            connect_timeout: int | None = None) -> psycopg.Connection:
    """A connection to the district's database; `dicts` gives rows as dicts;
    `connect_timeout` (s) for a command that must not hang on a database that is down."""
    extra = {"connect_timeout": connect_timeout} if connect_timeout else {}
    return psycopg.connect(dsn, autocommit=True, **extra,
                           row_factory=dict_row if dicts else tuple_row)  # type: ignore[arg-type]
