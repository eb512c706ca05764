"""The matching index of `MemoryStore` (SPEC §19): match entries by id and the ids
listed under each index key, with the store's undo log for rollbacks.

`SQLiteStore` keeps the same in two tables (`sfa_rules.state.sqlite_matches`). Both
answer `find_match(key)` from a hash or a B-tree index: the cost of a lookup does not
grow with the number of records the state knows.
"""

from __future__ import annotations

from typing import Any

from sfa_rules.entities import MatchEntry, MatchRef

_MISSING: Any = object()


class MemoryMatches:
    """The matching part of `MemoryStore` (a mixin over its ``_undo`` log)."""

    _undo: list[tuple[str, Any, Any]]
    _matches: dict[str, MatchEntry]
    _match_index: dict[str, set[str]]
    _match_seq: int

    def _init_matches(self) -> None:
        self._matches = {}
        self._match_index = {}
        self._match_seq = 0

    def get_match(self, id: str) -> MatchEntry | None:
        return self._matches.get(id)

    def put_match(self, entry: MatchEntry, old: MatchEntry | None) -> None:
        previous = self._matches.get(entry.id, _MISSING)
        self._undo.append(("match", entry.id, previous))
        self._set_match(entry.id, previous, entry)
        self._match_seq = max(self._match_seq, entry.seq)

    def find_match(self, key: str) -> list[MatchRef]:
        """The records listed under ``key``, by id."""
        ids = self._match_index.get(key)
        if not ids:  # most keys of most rows: a first e-mail, an unknown domain
            return []
        entries = (self._matches[id] for id in sorted(ids))
        return [MatchRef(e.id, e.seq, e.created, e.activity) for e in entries]

    def match_seq(self) -> int:
        self._match_seq += 1
        return self._match_seq

    def _set_match(self, id: str, old: Any, new: Any) -> None:
        if old is not _MISSING:
            for key in old.keys:
                ids = self._match_index.get(key)
                if ids is not None:
                    ids.discard(id)
                    if not ids:
                        del self._match_index[key]
        if new is _MISSING:
            del self._matches[id]
            return
        self._matches[id] = new
        for key in new.keys:
            self._match_index.setdefault(key, set()).add(id)

    def _undo_match(self, id: str, previous: Any) -> None:
        self._set_match(id, self._matches[id], previous)
