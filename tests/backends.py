"""The two durable stores as the process-level tests use them (SPEC §9, §21): where a
new state lives (a file, or a fresh PostgreSQL database) and every row of its tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

TABLES = ("customers", "opportunities", "seen", "rotations", "loads", "journal")


class Backend:
    """``new(folder, name)``: the ``--state`` of a new, empty state; ``dump(state)``:
    every row of every table, sorted, for exact comparison of two states of one kind."""

    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self._server = request.getfixturevalue("postgres") if kind == "postgres" else None

    def new(self, folder: Path, name: str) -> str:
        if self._server is not None:
            return str(self._server.new_database())
        return str(folder / f"{name}.db")

    def exists(self, state: str) -> bool:
        """Whether anything of a state was created there."""
        if self._server is None:
            return Path(state).exists()
        import psycopg

        with psycopg.connect(state) as db:
            found = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'sfa'").fetchone()
        return found is not None

    def dump(self, state: str) -> dict[str, list[tuple[Any, ...]]]:
        if self._server is None:
            with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
                return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                        for t in TABLES}
        import psycopg

        with psycopg.connect(state) as pg:
            return {
                t: sorted(
                    (tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                     for row in pg.execute(f"SELECT * FROM sfa.{t}")),
                    key=repr,
                )
                for t in TABLES
            }

    def sql(self, state: str, query: str) -> list[tuple[Any, ...]]:
        """A query over the state's tables (unqualified names)."""
        if self._server is None:
            with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
                return db.execute(query).fetchall()
        import psycopg

        with psycopg.connect(state, options="-c search_path=sfa") as pg:
            return pg.execute(query).fetchall()


BACKENDS = ["sqlite", "postgres"]
