"""Backups of the hub's database: SQLite's online backup, checked, kept N deep.

A backup is a consistent snapshot taken while `hub serve` keeps writing (WAL: the
reader never blocks the writer), checked with `PRAGMA integrity_check` before it
gets its final name. A restore checks the file first, refuses while a process holds
the live database, keeps the current one aside, and copies the backup in with the
same API (one transaction: a reader sees the old database or the new one), then
migrates it to this version's schema. The keys (hub.key, binding.key) are not in
the database: copy them once to offline media (docs/deploy.md).
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from hub import schema
from hub.compound import HubError

PREFIX = "hub-"
SUFFIX = ".db"


def integrity(path: Path) -> str:
    """'ok', or what is wrong with a database file (including: not a hub database)."""
    if not Path(path).is_file():
        return f"{path} does not exist"
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
            if rows != ["ok"]:
                return "; ".join(rows[:5])
            names = {r[0] for r in con.execute("select name from sqlite_master")}
            if not {"meta", "gates", "gate_events"} <= names:
                return "not a Gatehouse hub database"
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return f"not readable as SQLite: {exc}"
    return "ok"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(src_path: Path, dst_path: Path) -> None:
    """SQLite online backup in one step: a snapshot of one moment, even under load."""
    src = sqlite3.connect(src_path, timeout=30)
    dst = sqlite3.connect(dst_path, timeout=30)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def backup(db_path: Path, folder: Path, keep: int | None = None,
           now: float | None = None, prefix: str = PREFIX) -> Path:
    """Back the database up into `folder` as hub-YYYYmmdd-HHMMSS.db; keep the newest `keep`."""
    if not Path(db_path).exists():
        raise HubError(f"no database at {db_path}")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now or time.time()))
    final = folder / f"{prefix}{stamp}{SUFFIX}"
    n = 1
    while final.exists():
        n += 1
        final = folder / f"{prefix}{stamp}-{n}{SUFFIX}"
    tmp = folder / f".{final.name}.tmp"
    try:
        _copy(db_path, tmp)
        con = sqlite3.connect(tmp)
        con.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        con.close()
        problem = integrity(tmp)
        if problem != "ok":
            raise HubError(f"the backup failed its check: {problem}")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)
    if keep:
        prune(folder, keep, prefix)
    return final


def backups(folder: Path, prefix: str = PREFIX) -> list[Path]:
    """The backups in a folder, oldest first."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir()
                   if p.name.startswith(prefix) and p.name.endswith(SUFFIX)),
                  key=lambda p: (p.stat().st_mtime, p.name))


def prune(folder: Path, keep: int, prefix: str = PREFIX) -> list[Path]:
    """Delete all but the newest `keep` backups; returns what was deleted."""
    old = backups(folder, prefix)[:-keep] if keep > 0 else []
    for p in old:
        p.unlink()
    return old


def holders(path: Path) -> list[int]:
    """Other processes with the database (or its WAL) open, from /proc (Linux)."""
    path = Path(path).resolve()
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in names for fd in (proc / "fd").iterdir()):
                found.append(int(proc.name))
        except OSError:
            continue  # gone, or another user's: hub processes run as the hub's user
    return found


def restore(db_path: Path, source: Path, folder: Path, force: bool = False) -> Path | None:
    """Replace the hub database with a checked backup; returns where the old one went."""
    problem = integrity(source)
    if problem != "ok":
        raise HubError(f"{source}: {problem}; nothing was changed")
    busy = holders(db_path)
    if busy and not force:
        raise HubError(f"the database is open in process(es) {busy}: stop `hub serve` and "
                       "`hub web` first (systemctl stop gatehouse-hub gatehouse-web)")
    saved = backup(db_path, folder, prefix="before-restore-") if Path(db_path).exists() else None
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    _copy(source, db_path)
    schema.open_db(db_path).close()   # a backup from an older version is migrated now
    problem = integrity(db_path)
    if problem != "ok":
        raise HubError(f"the restored database failed its check: {problem}; "
                       f"the previous one is {saved}")
    return saved


def migrate(db_path: Path) -> list[str]:
    """Apply the migrations this version has and the database lacks; their names."""
    def applied() -> set[tuple[str, str]]:
        con = sqlite3.connect(db_path)
        try:
            return set(con.execute("select migration_set, name from _sqlite_migrations"))
        except sqlite3.OperationalError:
            return set()
        finally:
            con.close()
    before = applied()
    schema.open_db(db_path).close()
    return sorted(f"{s}:{n}" for s, n in applied() - before)
