"""A throwaway PostgreSQL server for the tests (SPEC §21): Debian's binaries, `initdb`
and `pg_ctl` in a temporary folder, on a free port, as an unprivileged user when the
tests run as root (initdb refuses root). One per test session; each test gets a fresh
database, so one state per test. Skips only where no PostgreSQL binaries exist."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A running server; `new_database()` gives the URL of an empty database."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://sfa@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"state_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def start_server() -> Iterator[PostgresServer]:
    """Start a server for the session, yield it, stop it and remove its folder."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries (initdb) on this machine")
    pytest.importorskip("psycopg")
    folder = Path(tempfile.mkdtemp(prefix="sfa-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as nobody
        shutil.chown(folder, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = folder / "data", _free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        [*as_user, *map(str, args)], check=True, capture_output=True, text=True
    )
    run(bin_dir / "initdb", "-D", data, "-U", "sfa", "-A", "trust", "--no-sync", "-E", "UTF8")
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
    )
    run(bin_dir / "pg_ctl", "-D", data, "-o", options, "-l", folder / "log", "-w", "start")
    try:
        yield PostgresServer(port)
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
