"""A PostgreSQL 15 primary and a synchronous standby made for one test run.

``initdb`` makes the primary, ``pg_basebackup -R`` the standby from it (streaming, with
``standby.signal`` and ``primary_conninfo`` written for it); each has its own port, data
folder and socket folder under a temporary folder, so the machine's cluster on 5432 is never
touched. The primary waits for the standby to flush every commit
(``synchronous_standby_names = '*'``, given on the primary's command line only: a standby
promoted with it in its own configuration would wait for a standby of its own forever), so
a committed transaction is on both before its client hears of it.

``PostgresPair(standby=False)`` is the primary alone: a PostgreSQL of the test's own that it
may restart (``restart_primary``) without touching the machine's.

PostgreSQL refuses to run as root: run as root, the tools run as the ``postgres`` user, in
a folder it owns.

Usage::

    with PostgresPair() as pair:
        pair.url  # postgresql://postgres@127.0.0.1:p1,127.0.0.1:p2/postgres
        pair.stop_primary()  # pg_ctl stop -m immediate
        pair.promote()
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.ports import HOST, free_port

BIN = Path("/usr/lib/postgresql/15/bin")
TIMEOUT = 60.0


class PostgresError(RuntimeError):
    pass


class PostgresPair:
    def __init__(self, *, standby: bool = True) -> None:
        self.with_standby = standby
        self.root = Path(tempfile.mkdtemp(prefix="bin-postgres-pair-"))
        self.sockets = self.root / "sockets"
        self.primary = self.root / "primary"
        self.standby = self.root / "standby"
        self.primary_port = free_port()
        self.standby_port = free_port()
        self._as_postgres = os.geteuid() == 0
        self._started: list[Path] = []

    @property
    def url(self) -> str:
        if not self.with_standby:
            return self.node_url(self.primary_port)
        return (
            f"postgresql://postgres@{HOST}:{self.primary_port},{HOST}:{self.standby_port}/postgres"
        )

    def node_url(self, port: int) -> str:
        return f"postgresql://postgres@{HOST}:{port}/postgres"

    def _run(self, *command: str | Path) -> str:
        argv = [str(part) for part in command]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(
            argv, capture_output=True, timeout=TIMEOUT, check=False, cwd=self.root
        )
        if done.returncode != 0:
            raise PostgresError(f"{' '.join(argv)}: {done.stderr.decode()[-2000:]}")
        return done.stdout.decode()

    def _options(self, port: int, *extra: str) -> str:
        settings = [
            f"-p {port}",
            f"-k {self.sockets}",
            f"-c listen_addresses={HOST}",
            "-c fsync=on",
            "-c max_connections=100",
            *extra,
        ]
        return " ".join(settings)

    def _start(self, data: Path, options: str) -> None:
        self._run(
            BIN / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-l",
            data.parent / f"{data.name}.log",
            "-w",
            "-t",
            "60",
            "start",
        )
        self._started.append(data)

    def start(self) -> None:
        atexit.register(self.stop)
        self.sockets.mkdir()
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.root, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            BIN / "initdb",
            "-D",
            self.primary,
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        replication = (
            "-c wal_level=replica",
            "-c max_wal_senders=5",
            # pg_ctl hands the options to a shell: quoted, or * would match file names.
            "-c synchronous_standby_names='*'",
            "-c synchronous_commit=on",
        )
        # Alone, a primary waiting for a synchronous standby would wait for ever.
        self._start(
            self.primary,
            self._options(self.primary_port, *(replication if self.with_standby else ())),
        )
        if not self.with_standby:
            return
        self._run(
            BIN / "pg_basebackup",
            "-D",
            self.standby,
            "-h",
            HOST,
            "-p",
            str(self.primary_port),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
        )
        self._start(self.standby, self._options(self.standby_port, "-c hot_standby=on"))
        # The walreceiver connects a moment after the standby starts: wait for it.
        self.psql(
            self.primary_port,
            "DO $$ BEGIN FOR i IN 1..200 LOOP EXIT WHEN EXISTS (SELECT FROM "
            "pg_stat_replication WHERE sync_state = 'sync'); PERFORM pg_sleep(0.1); "
            "END LOOP; END $$",
        )
        sync = self.psql(self.primary_port, "SELECT sync_state FROM pg_stat_replication")
        if sync.strip() != "sync":
            raise PostgresError(f"the standby is not synchronous: {sync!r}")

    def psql(self, port: int, sql: str) -> str:
        return self._run(
            BIN / "psql", "-h", HOST, "-p", str(port), "-U", "postgres", "-At", "-c", sql
        )

    def stop_primary(self) -> None:
        """``pg_ctl stop -m immediate``: no checkpoint, every session cut, as in a crash."""
        self._run(BIN / "pg_ctl", "-D", self.primary, "-m", "immediate", "-w", "stop")
        self._started.remove(self.primary)

    def restart_primary(self) -> None:
        """``pg_ctl restart`` (fast: sessions cut, a checkpoint, started again with the same
        options), as a PostgreSQL restart during maintenance."""
        # Its log named again: without -l the server would keep pg_ctl's output pipe open.
        log = self.primary.parent / f"{self.primary.name}.log"
        self._run(BIN / "pg_ctl", "-D", self.primary, "-l", log, "-m", "fast", "-w", "-t", "60",
                  "restart")  # fmt: skip

    def promote(self) -> None:
        self._run(BIN / "pg_ctl", "-D", self.standby, "-w", "-t", "60", "promote")

    def stop(self) -> None:
        for data in reversed(self._started):
            try:
                self._run(BIN / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
            except (PostgresError, subprocess.TimeoutExpired):
                pid_file = data / "postmaster.pid"
                if pid_file.exists():
                    os.kill(int(pid_file.read_text().split()[0]), 9)
        self._started.clear()
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if kind is None:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            print(f"PostgreSQL pair logs kept in {self.root}")
