"""The records of the state file (SPEC §9): customers, opportunities and seen
transactions, read through the Bloom bitmap and the write buffer, written in batches.
:class:`sqlite.SQLiteStore` adds the file itself: opening, the run lock, the dry run's
overlay, commits, the resume journal and the promotion of a lazy apply."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, TypeVar

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state.sqlite_parts import (
    CUSTOMER,
    CUSTOMER_COLUMNS,
    OPPORTUNITY,
    OPPORTUNITY_COLUMNS,
    OPPS_OF,
    PUT_CUSTOMER,
    PUT_OPPORTUNITY,
    PUT_SEEN,
    SEEN,
    Bloom,
    customer_from_row,
    customer_row,
    opportunity_from_row,
    opportunity_row,
    state_errors,
)
from sfa_rules.state.store import CountedStore, StateError

T = TypeVar("T", Customer, Opportunity)  # what a scan reads

__all__ = ["SQLiteRecords"]


class SQLiteRecords(CountedStore):
    """Customers, opportunities and seen transactions of an open state (its connection,
    bitmap and buffers are set up by ``SQLiteStore``)."""

    path: str | None
    _db: sqlite3.Connection
    _layered: bool  # a dry run's overlay ("main") over the state file ("base")
    _bloom: Bloom
    _buffer_size: int
    _customers: dict[str, Customer]
    _opportunities: dict[str, Opportunity]
    _buffered_of: dict[str, set[str]]  # customer -> buffered opportunity ids
    _seen: set[tuple[str, str]]

    def _base(self) -> tuple[str, bool]:
        raise NotImplementedError  # SQLiteHistory: the base's customer columns, history

    def _layers(self) -> tuple[str, ...]:
        return ("main", "base") if self._layered else ("main",)

    # customers and opportunities

    # get_customer and put_customer run once or twice a row, and mostly touch no SQLite:
    # only what does is wrapped by state_errors.
    def get_customer(self, id: str) -> Customer | None:
        if not self._bloom(id, CUSTOMER):
            return None
        buffered = self._customers.get(id)
        if buffered is not None:
            return buffered
        return self._read_customer(id)

    @state_errors
    def _read_customer(self, id: str) -> Customer | None:
        for db in self._layers():
            columns = self._base()[0] if db == "base" else CUSTOMER_COLUMNS
            row = self._db.execute(
                f"SELECT {columns} FROM {db}.customers WHERE id = ?", (id,)
            ).fetchone()
            if row is not None:
                return customer_from_row(row)
        return None

    def put_customer(self, customer: Customer) -> None:
        self._bloom.add(customer.id, CUSTOMER)
        self._customers[customer.id] = customer
        if len(self._customers) >= self._buffer_size:
            self._flush()

    @state_errors
    def get_opportunity(self, id: str) -> Opportunity | None:
        if not self._bloom(id, OPPORTUNITY):
            return None
        buffered = self._opportunities.get(id)
        if buffered is not None:
            return buffered
        for db in self._layers():
            row = self._db.execute(
                f"SELECT {OPPORTUNITY_COLUMNS} FROM {db}.opportunities WHERE id = ?", (id,)
            ).fetchone()
            if row is not None:
                return opportunity_from_row(row)
        return None

    @state_errors
    def put_opportunity(self, opportunity: Opportunity) -> None:
        id, customer = opportunity.id, opportunity.customer
        self._bloom.add(id, OPPORTUNITY)
        previous = self._opportunities.get(id)
        if previous is not None and previous.customer is not None:
            self._buffered_of[previous.customer].discard(id)
        self._opportunities[id] = opportunity
        if customer is not None:
            self._bloom.add(customer, OPPS_OF)
            self._buffered_of.setdefault(customer, set()).add(id)
        if len(self._opportunities) >= self._buffer_size:
            self._flush()

    @state_errors
    def opportunities_of(self, customer_id: str) -> list[Opportunity]:
        if not self._bloom(customer_id, OPPS_OF):
            return []
        found: dict[str, Opportunity] = {}
        sql = f"SELECT {OPPORTUNITY_COLUMNS} FROM main.opportunities WHERE customer = ?"
        if self._layered:  # base rows the overlay replaced (maybe moved elsewhere) are stale
            sql += (
                f" UNION ALL SELECT {OPPORTUNITY_COLUMNS} FROM base.opportunities b"
                " WHERE customer = ? AND NOT EXISTS"
                " (SELECT 1 FROM main.opportunities m WHERE m.id = b.id)"
            )
        params = (customer_id,) * (2 if self._layered else 1)
        for row in self._db.execute(sql, params):
            if row[0] not in self._opportunities:  # a buffered version is newer
                found[row[0]] = opportunity_from_row(row)
        for id in self._buffered_of.get(customer_id, ()):
            found[id] = self._opportunities[id]
        return [found[id] for id in sorted(found)]

    def all_opportunities(self) -> Iterator[Opportunity]:
        """Every opportunity, by id; reads a snapshot taken at the first ``next()``.
        A lazy store's promotion (its first commit) ends an iteration in progress."""
        return self._every("opportunities", OPPORTUNITY_COLUMNS, lambda: OPPORTUNITY_COLUMNS,
                           opportunity_from_row)

    def customers(self, statuses: Collection[str] | None = None) -> Iterator[Customer]:
        """Every customer (of one of ``statuses``, when given), by id, in one query (an
        overlay's customer hides the base's); reads a snapshot taken at the first
        ``next()``."""
        return self._every("customers", CUSTOMER_COLUMNS, lambda: self._base()[0],
                           customer_from_row, statuses)

    def _every(self, table: str, columns: str, base_columns: Callable[[], str],
               decode: Callable[[Any], T], statuses: Collection[str] | None = None,
               ) -> Iterator[T]:
        # base_columns is asked only when there is a base: an old schema's may differ
        self._flush()
        only, params = "", tuple[str, ...]()
        if statuses is not None:
            params = tuple(sorted(statuses))
            only = f" AND status IN ({', '.join('?' * len(params))})"
        sql = f"SELECT {columns} FROM main.{table} WHERE 1{only}"
        if self._layered:
            sql += (
                f" UNION ALL SELECT {base_columns()} FROM base.{table} b"
                f" WHERE NOT EXISTS (SELECT 1 FROM main.{table} m WHERE m.id = b.id){only}"
            )
            params += params
        try:
            for row in self._db.execute(sql + " ORDER BY id", params):
                yield decode(row)
        except sqlite3.DatabaseError as e:
            raise StateError(f"state {self.path}: {e}") from e

    @state_errors
    def seen(self, type: str, id: str) -> bool:
        if not self._bloom(type + "\0" + id, SEEN):
            return False
        if (type, id) in self._seen:
            return True
        return any(
            self._db.execute(
                f"SELECT 1 FROM {db}.seen WHERE type = ? AND id = ?", (type, id)
            ).fetchone()
            for db in self._layers()
        )

    @state_errors
    def mark_seen(self, type: str, id: str) -> None:
        self._bloom.add(type + "\0" + id, SEEN)
        self._seen.add((type, id))
        if len(self._seen) >= self._buffer_size:
            self._flush()

    @state_errors
    def _flush(self) -> None:
        """Write the buffer into the open transaction (still undone by a rollback)."""
        db = self._db
        if self._customers:
            db.executemany(PUT_CUSTOMER, map(customer_row, self._customers.values()))
            self._customers = {}
        if self._opportunities:
            db.executemany(PUT_OPPORTUNITY, map(opportunity_row, self._opportunities.values()))
            self._opportunities, self._buffered_of = {}, {}
        if self._seen:
            db.executemany(PUT_SEEN, self._seen)
            self._seen = set()

    @state_errors
    def recount_loads(self, open_statuses: Iterable[str], *, fix: bool = False) -> dict[str, int]:
        """Open records per owner, counted from the customers (to check `loads()`);
        with ``fix`` the counts also replace the loads (pending until commit)."""
        self._flush()
        rows = "SELECT owner, status FROM main.customers"
        if self._layered:
            rows += (
                " UNION ALL SELECT owner, status FROM base.customers b"
                " WHERE NOT EXISTS (SELECT 1 FROM main.customers m WHERE m.id = b.id)"
            )
        sql = (
            f"SELECT owner, count(*) FROM ({rows}) WHERE owner IS NOT NULL"
            " AND status IN (SELECT value FROM json_each(?)) GROUP BY owner ORDER BY owner"
        )
        counts = dict(self._db.execute(sql, (json.dumps(sorted(set(open_statuses))),)))
        if fix:
            self._counters.replace_loads(counts)
        return counts
