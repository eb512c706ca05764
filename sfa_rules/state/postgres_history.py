"""Customers' history in a PostgreSQL state (SPEC §18): the ``history`` table of
``sqlite_history`` in the schema ``sfa``, with the same numbering (``seq``, in order of
arrival, after the state's last) and the same bounded write buffer, flushed into the
run's open transaction with the other records. A dry run writes to its temporary
table; a version 1 state read by a dry run has no history until an apply migrates it.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from sfa_rules.entities import HistoryEntry
from sfa_rules.state.postgres_parts import pg_errors
from sfa_rules.state.store import history_order

__all__ = ["PostgresHistory"]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def _row(e: HistoryEntry) -> tuple[Any, ...]:
    return (e.seq, e.customer, e.date, e.kind, _encode(dict(e.detail)), e.source)


class PostgresHistory:
    """The history part of ``PostgresStore`` (a mixin over its connection and layers;
    ``PostgresStore`` flushes and drops the buffer with its own)."""

    _db: psycopg.Connection[Any]
    _history_layers: tuple[str, ...]  # the layers that have a history table
    _target: str
    _buffer_size: int
    _history_buffer: list[HistoryEntry] | None = None
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
        buffer.append(HistoryEntry(entry.customer, entry.date, entry.kind, entry.detail,
                                   entry.source, self._next_history))
        if len(buffer) >= self._buffer_size:
            self._flush_history()

    @pg_errors
    def history_of(self, customer_id: str) -> list[HistoryEntry]:
        """The customer's history by date, then order of arrival."""
        self._flush_history()
        entries = [
            HistoryEntry(customer, date, kind, json.loads(detail), source, int(seq))
            for db in self._history_layers
            for seq, customer, date, kind, detail, source in self._db.execute(
                f"SELECT seq, customer, date, kind, detail, source FROM {db}.history"
                " WHERE customer = %s", (customer_id,)
            )
        ]
        return sorted(entries, key=history_order)

    @pg_errors
    def _flush_history(self) -> None:
        buffer, self._history_buffer = self._history_buffer, None
        if buffer:
            with self._db.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {self._target}.history VALUES (%s, %s, %s, %s, %s, %s)",
                    [_row(e) for e in buffer],
                )

    def _drop_history(self) -> None:
        """Forget the buffer and the numbering (a rollback: the tables say again)."""
        self._history_buffer = None
        self._next_history = None
