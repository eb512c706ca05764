"""The matching index of `SQLiteStore` (SPEC §19): two tables of the state file.

- ``match_records``: one row per lead, prospect or customer with keys: its key
  values and index keys (JSON), and what ranks it (created, activity, seq);
- ``match_keys``: ``(key, id)``, the primary key a B-tree: the ids listed under an
  index key are one range scan, whatever the number of rows.

Writes go to a bounded buffer (as customers do), flushed with ``executemany`` into the
run's open transaction at each commit or when it holds ``buffer_size`` entries; lookups
read the buffer over the tables. A Bloom bitmap of their ids and keys
answers "no such key" without a SELECT for the many keys no record shares; it is built
from the tables at the ``BLOOM_AFTER``-th lookup, not at open, so that a run of a few
rows over a large state does not pay for reading every key (until then each lookup is
one B-tree probe). A dry run (and a lazy apply)
writes them to its overlay: an entry there hides the base's entry of the same id and
all of its index keys. A version 1 state, read by a dry run, has no such tables: its
records offer no keys until an apply migrates it (and later rows carry keys again).
"""

from __future__ import annotations

import json
import sqlite3
from operator import itemgetter
from typing import Any

from sfa_rules.entities import MatchEntry, MatchRef
from sfa_rules.state.sqlite_parts import Bloom, has_matches, state_errors

BLOOM_AFTER = 20_000  # lookups answered by SQLite alone before the bitmap is built
MATCH_ID, MATCH_KEY = 0x3C6EF372A54FF53A, 0x510E527F9B05688C  # Bloom salts
_COLUMNS = "id, seq, created, activity, data"
_PUT = "INSERT OR REPLACE INTO main.match_records VALUES (?, ?, ?, ?, ?)"
_FIND = (
    "SELECT r.id, r.seq, r.created, r.activity FROM {db}.match_keys k"
    " JOIN {db}.match_records r ON r.id = k.id WHERE k.key = ?"
)
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _entry(row: tuple[Any, ...]) -> MatchEntry:
    data = json.loads(row[4])
    return MatchEntry(row[0], data["values"], tuple(data["keys"]), row[2], row[3], row[1])


class _Buffer:
    """Match entries not written yet: by id, by index key, and the keys the file lists
    each one under (to delete at the flush)."""

    def __init__(self) -> None:
        self.entries: dict[str, MatchEntry] = {}
        self.index: dict[str, set[str]] = {}
        self.stored: dict[str, tuple[str, ...]] = {}


def _ref(e: MatchEntry) -> MatchRef:
    return MatchRef(e.id, e.seq, e.created, e.activity)


class SQLiteMatches:
    """The matching part of `SQLiteStore` (a mixin over its connection, its layers
    and its buffer size; `SQLiteStore` flushes and drops the buffer with its own)."""

    path: str | None
    _db: sqlite3.Connection
    _layered: bool
    _buffer_size: int
    _next_match: int | None = None
    _base_matches: bool | None = None
    _match_bloom: Bloom | None = None
    _match_lookups = 0
    _match_buffer: _Buffer | None = None

    def _match_layers(self) -> tuple[str, ...]:
        if not self._layered:
            return ("main",)
        if self._base_matches is None:
            self._base_matches = has_matches(self._db, "base")
        return ("main", "base") if self._base_matches else ("main",)

    def _maybe(self, key: str, salt: int) -> bool:
        """False when the bitmap proves ``key`` absent (True: ask SQLite)."""
        bloom = self._match_bloom
        if bloom is None:
            self._match_lookups += 1
            if self._match_lookups < BLOOM_AFTER:
                return True
            bloom = self._match_bloom = self._build_match_bloom()
        return bloom(key, salt)

    def _build_match_bloom(self) -> Bloom:
        layers = self._match_layers()
        count = sum(
            self._db.execute(f"SELECT count(*) FROM {db}.{table}").fetchone()[0]
            for db in layers for table in ("match_records", "match_keys")
        )
        bloom = Bloom(count + 1_000_000)  # room for a million new keys in this run
        first = itemgetter(0)
        for db in layers:
            bloom.add_many(map(first, self._db.execute(f"SELECT id FROM {db}.match_records")),
                           MATCH_ID)
            bloom.add_many(map(first, self._db.execute(f"SELECT key FROM {db}.match_keys")),
                           MATCH_KEY)
        if self._match_buffer is not None:
            bloom.add_many(self._match_buffer.entries, MATCH_ID)
            bloom.add_many(self._match_buffer.index, MATCH_KEY)
        return bloom

    @state_errors
    def get_match(self, id: str) -> MatchEntry | None:
        buffer = self._match_buffer
        if buffer is not None and id in buffer.entries:
            return buffer.entries[id]
        if not self._maybe(id, MATCH_ID):
            return None
        for db in self._match_layers():
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM {db}.match_records WHERE id = ?", (id,)
            ).fetchone()
            if row is not None:
                return _entry(row)
        return None

    def put_match(self, entry: MatchEntry, old: MatchEntry | None) -> None:
        buffer = self._match_buffer
        if buffer is None:
            buffer = self._match_buffer = _Buffer()
        id = entry.id
        previous = buffer.entries.get(id)
        if previous is None:
            buffer.stored[id] = old.keys if old is not None else ()
        else:
            for key in previous.keys:
                ids = buffer.index[key]
                ids.discard(id)
                if not ids:
                    del buffer.index[key]
        buffer.entries[id] = entry
        for key in entry.keys:
            buffer.index.setdefault(key, set()).add(id)
        bloom = self._match_bloom
        if bloom is not None:
            bloom.add(id, MATCH_ID)
            bloom.add_many(entry.keys, MATCH_KEY)
        if len(buffer.entries) >= self._buffer_size:
            self._flush_matches()

    @state_errors
    def find_match(self, key: str) -> list[MatchRef]:
        """The records listed under ``key``, by id: one index range scan joined to
        their records (an overlay's record hides the base's keys of the same id), the
        buffer's entries over them."""
        buffer = self._match_buffer
        refs: list[MatchRef] = []
        if self._maybe(key, MATCH_KEY):
            sql = _FIND.format(db="main")
            params: tuple[str, ...] = (key,)
            if len(self._match_layers()) == 2:
                sql += " UNION ALL " + _FIND.format(db="base") + (
                    " AND NOT EXISTS (SELECT 1 FROM main.match_records m WHERE m.id = k.id)")
                params = (key, key)
            refs = [MatchRef(*row) for row in self._db.execute(sql, params)]
        if buffer is not None:
            refs = [r for r in refs if r.id not in buffer.entries]
            refs += [_ref(buffer.entries[id]) for id in buffer.index.get(key, ())]
        return sorted(refs)

    @state_errors
    def _flush_matches(self) -> None:
        """Write the buffer into the open transaction (still undone by a rollback)."""
        buffer, self._match_buffer = self._match_buffer, None
        if buffer is None:
            return
        db, entries = self._db, buffer.entries
        db.executemany(_PUT, (
            (e.id, e.seq, e.created, e.activity,
             _encode({"values": dict(e.values), "keys": list(e.keys)}))
            for e in entries.values()
        ))
        # an overlay's entry hides the base's keys: it must list all of its own
        changed = [id for id, keys in buffer.stored.items()
                   if self._layered or keys != entries[id].keys]
        db.executemany("DELETE FROM main.match_keys WHERE key = ? AND id = ?",
                       ((key, id) for id in changed for key in buffer.stored[id]))
        db.executemany("INSERT OR IGNORE INTO main.match_keys VALUES (?, ?)",
                       ((key, id) for id in changed for key in entries[id].keys))

    def _drop_matches(self) -> None:
        """Forget the buffer (a rollback)."""
        self._match_buffer = None

    @state_errors
    def match_seq(self) -> int:
        """The next entry's sequence number (after every one the state holds)."""
        if self._next_match is None:
            top = [
                self._db.execute(f"SELECT max(seq) FROM {db}.match_records").fetchone()[0]
                for db in self._match_layers()
            ]
            self._next_match = max((t for t in top if t is not None), default=0)
        self._next_match += 1
        return self._next_match
