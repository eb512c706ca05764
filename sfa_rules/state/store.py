"""What assignment and lifecycle remember between rows and runs (SPEC §9).

A `Store` keeps customers, opportunities, each customer's history (SPEC §18: the
store numbers its entries in order of arrival, ``seq``; `history_of` gives them by date,
then arrival), the transactions already seen, each
territory's rotation, each rep's open-record count, and the resume journal of an
interrupted run. Two implementations behave identically:

- `MemoryStore`: dictionaries, for `decide`, small sessions and tests;
- `SQLiteStore` (in `sfa_rules.state.sqlite`; the package re-exports both): the state
  file, with a bounded write buffer, crash-safe batches and an overlay for dry runs
  and for lazy applies (which touch no file until their first commit).

Writes are provisional until `commit()` (or `commit_batch()`); `rollback()` drops them
and `close()` without a commit drops them too. Rotation values are JSON objects; a copy
goes in, so a caller may change what it gave; what comes out is the store's own, to
read (copy it to change it): a row reads one rotation, and copying it cost a microsecond.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Protocol, Self

from sfa_rules.entities import Customer, HistoryEntry, MatchEntry, MatchRef, Opportunity
from sfa_rules.state.matches import MemoryMatches

__all__ = [
    "MemoryStore",
    "StateError",
    "Store",
    "decode_decisions",
    "encode_decisions",
    "encode_lines",
    "history_order",
]


class StateError(Exception):
    """The state cannot be used: not a state file, a newer schema, or in use by another
    run. The message is for the user; the CLI exits 2 with it."""


class Store(Protocol):
    """The state a run reads and writes; see the module docstring."""

    def get_customer(self, id: str) -> Customer | None: ...
    def put_customer(self, customer: Customer) -> None: ...
    def get_opportunity(self, id: str) -> Opportunity | None: ...
    def put_opportunity(self, opportunity: Opportunity) -> None: ...
    def opportunities_of(self, customer_id: str) -> list[Opportunity]: ...
    def all_opportunities(self) -> Iterator[Opportunity]: ...
    def customers(self, statuses: Collection[str] | None = None) -> Iterator[Customer]: ...
    def add_history(self, entry: HistoryEntry) -> None: ...
    def history_of(self, customer_id: str) -> list[HistoryEntry]: ...
    def seen(self, type: str, id: str) -> bool: ...
    def mark_seen(self, type: str, id: str) -> None: ...
    def get_match(self, id: str) -> MatchEntry | None: ...
    def put_match(self, entry: MatchEntry, old: MatchEntry | None) -> None: ...
    def find_match(self, key: str) -> list[MatchRef]: ...
    def match_seq(self) -> int: ...
    def get_rotation(self, tid: str) -> dict[str, Any] | None: ...
    def set_rotation(self, tid: str, data: Mapping[str, Any]) -> None: ...
    def reset_rotation(self, tid: str) -> None: ...
    def rotations(self) -> dict[str, dict[str, Any]]: ...
    def open_count(self, rep: str) -> int: ...
    def add_open(self, rep: str, delta: int) -> None: ...
    def loads(self) -> dict[str, int]: ...
    def recount_loads(
        self, open_statuses: Iterable[str], *, fix: bool = False
    ) -> dict[str, int]: ...
    def resume_point(self, run_key: str) -> tuple[int, Iterator[dict[str, Any]]]: ...
    def commit_batch(self, run_key: str, rows_done: int, decisions: bytes) -> None: ...
    def finish_run(self, run_key: str) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def encode_decisions(decisions: Iterable[Mapping[str, Any]]) -> bytes:
    """A batch's decisions as the journal keeps them: zlib-compressed JSON lines."""
    return encode_lines(json.dumps(d, separators=(",", ":"), ensure_ascii=False) for d in decisions)


def encode_lines(lines: Iterable[str]) -> bytes:
    """A batch's decisions, each already one line of JSON, as the journal keeps them."""
    return zlib.compress("\n".join(lines).encode("utf-8"), 6)


def decode_decisions(blob: bytes) -> Iterator[dict[str, Any]]:
    """The decisions of one journal blob, in order (inverse of `encode_decisions`)."""
    text = zlib.decompress(blob).decode("utf-8")
    for line in text.split("\n") if text else ():
        yield json.loads(line)


def history_order(entry: HistoryEntry) -> tuple[str, int]:
    """The order of a customer's history: by date (undated first), then by arrival."""
    return (entry.date or "", entry.seq)


def copy_rotation(data: Mapping[str, Any]) -> dict[str, Any]:
    """A detached copy of a rotation (JSON values: dicts, lists, text, numbers), with
    tuples as lists, as a round trip through the state file gives them back."""
    copied = _copy_json(data)
    if not isinstance(copied, dict):
        raise TypeError("a rotation is a mapping")
    return copied


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copy_json(value: Any) -> Any:
    # a hand-rolled deep copy: json.loads(json.dumps(...)) cost most of a row's time
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict or isinstance(value, Mapping):  # scalars copied without a call
        return {k if type(k) is str else str(k): v if type(v) in _SCALARS else _copy_json(v)
                for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else _copy_json(v) for v in value]
    return value


class Counters:
    """Rotations and loads of one store: few (one per territory, one per rep), so they
    live in memory, with a committed copy and pending changes for rollback."""

    def __init__(self, rotations: dict[str, dict[str, Any]], loads: dict[str, int]) -> None:
        self.committed_rotations = rotations
        self.committed_loads = loads
        self.pending_rotations: dict[str, dict[str, Any] | None] = {}  # None: reset
        self.pending_loads: dict[str, int] = {}

    def get_rotation(self, tid: str) -> dict[str, Any] | None:
        data = (
            self.pending_rotations[tid]
            if tid in self.pending_rotations
            else self.committed_rotations.get(tid)
        )
        return data  # a copy was stored, and readers do not change it

    def set_rotation(self, tid: str, data: Mapping[str, Any]) -> None:
        self.pending_rotations[tid] = copy_rotation(data)

    def reset_rotation(self, tid: str) -> None:
        self.pending_rotations[tid] = None

    def rotations(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any] | None] = {**self.committed_rotations}
        merged.update(self.pending_rotations)
        return {tid: copy_rotation(d) for tid, d in sorted(merged.items()) if d is not None}

    def open_count(self, rep: str) -> int:
        pending = self.pending_loads.get(rep)
        return pending if pending is not None else self.committed_loads.get(rep, 0)

    def add_open(self, rep: str, delta: int) -> None:
        self.pending_loads[rep] = self.open_count(rep) + delta

    def loads(self) -> dict[str, int]:
        return dict(sorted({**self.committed_loads, **self.pending_loads}.items()))

    def replace_loads(self, counts: Mapping[str, int]) -> None:
        for rep in {*self.committed_loads, *self.pending_loads, *counts}:
            self.pending_loads[rep] = counts.get(rep, 0)

    def commit(self) -> None:
        for tid, data in self.pending_rotations.items():
            if data is None:
                self.committed_rotations.pop(tid, None)
            else:
                self.committed_rotations[tid] = data
        self.committed_loads.update(self.pending_loads)
        self.rollback()

    def rollback(self) -> None:
        self.pending_rotations = {}
        self.pending_loads = {}


_MISSING: Any = object()


class CountedStore:
    """Rotations and loads, one value per territory or rep: both stores keep them in
    memory in `Counters` and answer from there (the rest of `Store` is theirs)."""

    _counters: Counters

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def get_rotation(self, tid: str) -> dict[str, Any] | None:
        return self._counters.get_rotation(tid)

    def set_rotation(self, tid: str, data: Mapping[str, Any]) -> None:
        self._counters.set_rotation(tid, data)

    def reset_rotation(self, tid: str) -> None:
        self._counters.reset_rotation(tid)

    def rotations(self) -> dict[str, dict[str, Any]]:
        return self._counters.rotations()

    def open_count(self, rep: str) -> int:
        return self._counters.open_count(rep)

    def add_open(self, rep: str, delta: int) -> None:
        self._counters.add_open(rep, delta)

    def loads(self) -> dict[str, int]:
        return self._counters.loads()


class MemoryStore(MemoryMatches, CountedStore):
    """The whole state in dictionaries: for `decide`, small sessions and tests.

    Uncommitted writes are undone from an undo log on `rollback()` or `close()`.
    """

    def __init__(self) -> None:
        self._empty()

    def _empty(self) -> None:
        self._customers: dict[str, Customer] = {}
        self._opportunities: dict[str, Opportunity] = {}
        self._by_customer: dict[str, set[str]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._history: dict[str, list[HistoryEntry]] = {}
        self._history_seq = 0
        self._journal: dict[str, dict[int, bytes]] = {}
        self._counters = Counters({}, {})
        self._undo: list[tuple[str, Any, Any]] = []  # (kind, key, previous value or _MISSING)
        self._init_matches()
        self._closed = False

    # customers and opportunities

    def get_customer(self, id: str) -> Customer | None:
        return self._customers.get(id)

    def put_customer(self, customer: Customer) -> None:
        self._undo.append(("customer", customer.id, self._customers.get(customer.id, _MISSING)))
        self._customers[customer.id] = customer

    def get_opportunity(self, id: str) -> Opportunity | None:
        return self._opportunities.get(id)

    def put_opportunity(self, opportunity: Opportunity) -> None:
        previous = self._opportunities.get(opportunity.id, _MISSING)
        self._undo.append(("opportunity", opportunity.id, previous))
        self._set_opportunity(opportunity.id, previous, opportunity)

    def _set_opportunity(self, id: str, old: Any, new: Any) -> None:
        if old is not _MISSING and old.customer is not None:
            self._by_customer[old.customer].discard(id)
        if new is _MISSING:
            del self._opportunities[id]
            return
        self._opportunities[id] = new
        if new.customer is not None:
            self._by_customer.setdefault(new.customer, set()).add(id)

    def opportunities_of(self, customer_id: str) -> list[Opportunity]:
        ids = sorted(self._by_customer.get(customer_id, ()))
        return [self._opportunities[i] for i in ids]

    def all_opportunities(self) -> Iterator[Opportunity]:
        for id in sorted(self._opportunities):
            yield self._opportunities[id]

    def customers(self, statuses: Collection[str] | None = None) -> Iterator[Customer]:
        for id in sorted(self._customers):
            customer = self._customers[id]
            if statuses is None or customer.status in statuses:
                yield customer

    def add_history(self, entry: HistoryEntry) -> None:
        self._history_seq += 1
        self._undo.append(("history", entry.customer, self._history_seq - 1))
        entry = HistoryEntry(entry.customer, entry.date, entry.kind, entry.detail, entry.source,
                             self._history_seq)
        self._history.setdefault(entry.customer, []).append(entry)

    def history_of(self, customer_id: str) -> list[HistoryEntry]:
        return sorted(self._history.get(customer_id, ()), key=history_order)

    def seen(self, type: str, id: str) -> bool:
        return (type, id) in self._seen

    def mark_seen(self, type: str, id: str) -> None:
        if (type, id) not in self._seen:
            self._undo.append(("seen", (type, id), _MISSING))
            self._seen.add((type, id))

    def recount_loads(self, open_statuses: Iterable[str], *, fix: bool = False) -> dict[str, int]:
        """Open records per owner, counted from the customers (to check `loads()`);
        with ``fix`` the counts also replace the loads (pending until commit)."""
        wanted = set(open_statuses)
        counts: dict[str, int] = {}
        for customer in self._customers.values():
            if customer.owner is not None and customer.status in wanted:
                counts[customer.owner] = counts.get(customer.owner, 0) + 1
        if fix:
            self._counters.replace_loads(counts)
        return dict(sorted(counts.items()))

    # resume journal and transactions

    def resume_point(self, run_key: str) -> tuple[int, Iterator[dict[str, Any]]]:
        batches = sorted(self._journal.get(run_key, {}).items())
        rows_done = batches[-1][0] if batches else 0
        return rows_done, (d for _, blob in batches for d in decode_decisions(blob))

    def commit_batch(self, run_key: str, rows_done: int, decisions: bytes) -> None:
        batches = self._journal.setdefault(run_key, {})
        self._undo.append(("journal", (run_key, rows_done), batches.get(rows_done, _MISSING)))
        batches[rows_done] = decisions
        self.commit()

    def finish_run(self, run_key: str) -> None:
        self._journal.pop(run_key, None)
        self.commit()

    def commit(self) -> None:
        self._undo.clear()
        self._counters.commit()

    def rollback(self) -> None:
        for kind, key, previous in reversed(self._undo):
            if kind == "customer":
                if previous is _MISSING:
                    del self._customers[key]
                else:
                    self._customers[key] = previous
            elif kind == "opportunity":
                self._set_opportunity(key, self._opportunities[key], previous)
            elif kind == "seen":
                self._seen.discard(key)
            elif kind == "match":
                self._undo_match(key, previous)
            elif kind == "history":
                self._history[key].pop()
                self._history_seq = previous
            else:  # journal
                run_key, rows_done = key
                if previous is _MISSING:
                    self._journal[run_key].pop(rows_done, None)
                else:
                    self._journal[run_key][rows_done] = previous
        self._undo.clear()
        self._counters.rollback()

    def close(self) -> None:
        if not self._closed:
            self.rollback()
            self._closed = True

    def discard(self) -> None:
        """Close without undoing what was not committed: for a store no one else will
        read (a session's own), whose rollback would only undo, row by row, what is
        about to be dropped anyway (seconds, after a million rows)."""
        self._empty()
        self._closed = True

