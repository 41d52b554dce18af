"""A private PostgreSQL cluster in a directory: the district's store on one machine
(`district run`) and the tests' (tests/district_fixtures.py).

Debian's PostgreSQL 15 binaries, run straight from /usr/lib/postgresql/15/bin: no
system service. The socket lives in the cluster's own directory; TCP only when a port is
asked for. PostgreSQL refuses to run as root, and CI runs as root: then every command
runs as the `postgres` system user (runuser), who owns the directory.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("GATEHOUSE_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "district"
DATABASE = "district"
SOCKET_PORT = 5432   # names the socket file (.s.PGSQL.5432) when no TCP is asked for
RUN_AS = "postgres"


def _as_owner() -> list[str]:
    return ["runuser", "-u", RUN_AS, "--"] if os.geteuid() == 0 else []


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _reachable_by_owner(path: Path) -> None:
    """Root's temporary and home directories are often 0700: the postgres user could not
    reach a cluster below them. Say so plainly instead of initdb's 'permission denied'."""
    if os.geteuid() != 0:
        return
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise PermissionError(
                f"{parent} is not traversable by the {RUN_AS} user PostgreSQL runs as "
                f"(chmod o+x it, or keep the district home elsewhere)")


@dataclass
class PgCluster:
    """One cluster in `root` (data in root/data, socket and log in root)."""

    root: Path
    tcp_port: int | None = None       # None: the unix socket only
    durable: bool = True              # False (tests): no fsync, faster by far

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def port(self) -> int:
        return self.tcp_port or SOCKET_PORT

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def dsn(self, dbname: str = DATABASE) -> str:
        return f"host={self.root} port={self.port} user={SUPERUSER} dbname={dbname}"

    def _run(self, *args: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run([*_as_owner(), *map(str, args)], check=True,
                              capture_output=True, text=True, cwd="/")

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> PgCluster:
        """initdb once (a no-op when the cluster exists) and the database `district`."""
        if self.initialised():
            return self
        _reachable_by_owner(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        _chown(self.root)
        # trust on the socket only: the directory (0700, the owner's) is the lock.
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", SUPERUSER, "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
                  *([] if self.durable else ["--no-sync"]))
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(self._settings())
        self.start()
        self._run(PG_BIN / "createdb", "-h", self.root, "-p", str(self.port),
                  "-U", SUPERUSER, DATABASE)
        return self

    def _settings(self) -> str:
        lines = [f"unix_socket_directories = '{self.root}'",
                 f"listen_addresses = '{'127.0.0.1' if self.tcp_port else ''}'",
                 f"port = {self.port}", "timezone = 'UTC'", "max_connections = 200"]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        return "\n# district/pg_local.py\n" + "\n".join(lines) + "\n"

    def running(self) -> bool:
        return subprocess.run([*_as_owner(), str(PG_BIN / "pg_ctl"), "status", "-D",
                               str(self.data)], capture_output=True, cwd="/").returncode == 0

    def start(self) -> PgCluster:
        if not self.running():
            # A cluster killed with -9 leaves its pid file: pg_ctl copes with a stale one.
            self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                      "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
