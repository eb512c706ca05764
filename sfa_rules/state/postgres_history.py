"""Customers' history in a PostgreSQL state (SPEC §18): the ``history`` table of
``sqlite_history`` in the schema ``sfa`` (rows of ``history_rows``), with the same
numbering (``seq``, in order of arrival, after the state's last: its index finds it)
and the same bounded write buffer, flushed into the
run's open transaction with the other records. A dry run writes to its temporary
table; a version 1 state read by a dry run has no history until an apply migrates it.
"""

from __future__ import annotations

from typing import Any

import psycopg

from sfa_rules.entities import HistoryEntry
from sfa_rules.state.history_rows import entry_from_row, entry_row
from sfa_rules.state.postgres_parts import pg_errors
from sfa_rules.state.store import history_order

__all__ = ["PostgresHistory"]


class PostgresHistory:
    """The history part of ``PostgresStore`` (a mixin over its connection and layers;
    ``PostgresStore`` flushes and drops the buffer with its own)."""

    _db: psycopg.Connection[Any]
    _history_layers: tuple[str, ...]  # the layers that have a history table
    _target: str
    _buffer_size: int
    _history_buffer: list[tuple[Any, ...]] | None = None
    _next_history: int | None = None  # the last seq given (None: read it)

    @pg_errors
    def add_history(self, entry: HistoryEntry) -> None:
        """Append ``entry`` to its customer's history, numbered in order of arrival."""
        if self._next_history is None:
            top = 0
            for db in self._history_layers:
                row = self._db.execute(f"SELECT max(seq) FROM {db}.history").fetchone()
                top = max(top, int(row[0] or 0) if row else 0)
            self._next_history = top
        self._next_history += 1
        buffer = self._history_buffer
        if buffer is None:
            buffer = self._history_buffer = []
        buffer.append(entry_row(entry, self._next_history))
        if len(buffer) >= self._buffer_size:
            self._flush_history()

    @pg_errors
    def history_of(self, customer_id: str) -> list[HistoryEntry]:
        """The customer's history by date, then order of arrival."""
        self._flush_history()
        entries = [
            entry_from_row(row)
            for db in self._history_layers
            for row in self._db.execute(
                f"SELECT * FROM {db}.history WHERE customer = %s", (customer_id,))
        ]
        return sorted(entries, key=history_order)

    @pg_errors
    def _flush_history(self) -> None:
        buffer, self._history_buffer = self._history_buffer, None
        if buffer:
            with self._db.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {self._target}.history"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", buffer,
                )

    def _drop_history(self) -> None:
        """Forget the buffer and the numbering (a rollback: the tables say again)."""
        self._history_buffer = None
        self._next_history = None
