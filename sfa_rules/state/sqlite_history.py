"""Customers' history in `SQLiteStore` (SPEC §18).

``history``: one row per entry, keyed by customer and ``seq`` (the order of arrival),
WITHOUT ROWID: one B-tree, and a customer's history is one range scan of it. The last
``seq`` given is kept in ``history_seq`` (one row), so numbering on needs no scan.
Entries are appended to a bounded buffer, as rows ready to insert (``history_rows``), and flushed with
``executemany`` into the run's open transaction with the other records. A dry run
writes them to its overlay, numbered after the base's; a version 1 or 2 state read by
a dry run has no history until an apply migrates it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sfa_rules.entities import HistoryEntry
from sfa_rules.state.history_rows import entry_from_row, entry_row
from sfa_rules.state.sqlite_parts import customer_columns, has_history
from sfa_rules.state.store import StateError, history_order

__all__ = ["SQLiteHistory"]

_PUT = "INSERT INTO main.history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

class SQLiteHistory:
    """The history part of `SQLiteStore` (a mixin over its connection and layers;
    `SQLiteStore` flushes and drops the buffer with its own)."""

    path: str | None
    _db: sqlite3.Connection
    _layered: bool
    _buffer_size: int
    _history_buffer: list[tuple[Any, ...]] | None = None
    _next_history: int | None = None  # the last seq given (None: read it)
    _base_layout: tuple[str, bool] | None = None  # the base's customer columns, history

    def _base(self) -> tuple[str, bool]:
        if self._base_layout is None:
            self._base_layout = (customer_columns(self._db, "base"), has_history(self._db, "base"))
        return self._base_layout

    def _history_layers(self) -> tuple[str, ...]:
        return ("main", "base") if self._layered and self._base()[1] else ("main",)

    def add_history(self, entry: HistoryEntry) -> None:
        """Append ``entry`` to its customer's history, numbered in order of arrival."""
        seq = self._next_history
        if seq is None:
            seq = self._last_history()
        self._next_history = seq = seq + 1
        buffer = self._history_buffer
        if buffer is None:
            buffer = self._history_buffer = []
        buffer.append(entry_row(entry, seq))
        if len(buffer) >= self._buffer_size:
            self._flush_history()

    def _last_history(self) -> int:
        try:
            top = [
                row[0]
                for db in self._history_layers()
                for row in self._db.execute(f"SELECT seq FROM {db}.history_seq")
            ]
        except sqlite3.DatabaseError as e:
            raise StateError(f"state {self.path}: {e}") from e
        return max(top, default=0)

    def history_of(self, customer_id: str) -> list[HistoryEntry]:
        """The customer's history by date, then order of arrival."""
        self._flush_history()
        entries: list[HistoryEntry] = []
        try:
            for db in self._history_layers():
                entries.extend(map(entry_from_row, self._db.execute(
                    f"SELECT * FROM {db}.history WHERE customer = ?", (customer_id,))))
        except sqlite3.DatabaseError as e:
            raise StateError(f"state {self.path}: {e}") from e
        return sorted(entries, key=history_order)

    def _flush_history(self) -> None:
        buffer, self._history_buffer = self._history_buffer, None
        if buffer:
            buffer.sort()  # in key order: each page of the B-tree touched once per flush
            try:
                self._db.executemany(_PUT, buffer)
                self._db.execute("INSERT OR REPLACE INTO main.history_seq VALUES (0, ?)",
                                 (self._next_history,))
            except sqlite3.DatabaseError as e:
                raise StateError(f"state {self.path}: {e}") from e

    def _drop_history(self) -> None:
        """Forget the buffer and the numbering (a rollback: the tables say again)."""
        self._history_buffer = None
        self._next_history = None
