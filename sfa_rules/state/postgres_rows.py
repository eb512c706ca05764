"""The records of a PostgreSQL state (SPEC §9, §21): customers, opportunities and seen
transactions, read through the write buffer and written in batches.
:class:`postgres.PostgresStore` adds the connection: opening, the run lock, the dry
run's overlay, commits, the resume journal and the promotion of a lazy apply."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, TypeVar

import psycopg

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state.postgres_parts import (
    CUSTOMER_COLUMNS,
    OPPORTUNITY_COLUMNS,
    customer_from_row,
    customer_row,
    opportunity_from_row,
    opportunity_row,
    pg_errors,
    put_customer_sql,
    put_opportunity_sql,
    put_seen_sql,
)
from sfa_rules.state.store import CountedStore

T = TypeVar("T", Customer, Opportunity)  # what a paged scan reads

__all__ = ["PostgresRecords"]

_PAGE = 2000  # all_opportunities reads this many rows at a time


class PostgresRecords(CountedStore):
    """Customers, opportunities and seen transactions of an open state (its connection
    and buffers are set up by ``PostgresStore``)."""

    where: str
    _db: psycopg.Connection[Any]
    _layers: tuple[str, ...]  # schemas read, first wins: (overlay, state), or one of them
    _target: str  # where writes go: the overlay or the state
    _buffer_size: int
    _customers: dict[str, Customer]
    _opportunities: dict[str, Opportunity]
    _buffered_of: dict[str, set[str]]  # customer -> buffered opportunity ids
    _seen: set[tuple[str, str]]
    _customer_columns: dict[str, str]  # layer -> columns, for a state of an older version

    def _rows_of(self, table: str, where: str = "TRUE") -> str:
        """A query of the live rows of ``table`` across the layers (an overlay row
        replaces the state's row with its key); ``where`` may use %s twice per layer.
        Customers come as `customer_from_row` takes them, whatever the layer's version."""
        def rows(db: str) -> str:
            columns = "*"
            if table == "customers":
                columns = self._customer_columns.get(db, CUSTOMER_COLUMNS)
            return f"SELECT {columns} FROM {db}.{table} t WHERE {where}"

        if len(self._layers) == 1:
            return rows(self._layers[0])
        top, base = self._layers
        return (
            f"{rows(top)} UNION ALL {rows(base)} AND NOT EXISTS"
            f" (SELECT 1 FROM {top}.{table} m WHERE m.id = t.id)"
        )

    # customers and opportunities

    def get_customer(self, id: str) -> Customer | None:
        buffered = self._customers.get(id)
        if buffered is not None:
            return buffered
        return self._read_customer(id)

    @pg_errors
    def _read_customer(self, id: str) -> Customer | None:
        for db in self._layers:
            columns = self._customer_columns.get(db, CUSTOMER_COLUMNS)
            row = self._db.execute(
                f"SELECT {columns} FROM {db}.customers WHERE id = %s", (id,)
            ).fetchone()
            if row is not None:
                return customer_from_row(row)
        return None

    def put_customer(self, customer: Customer) -> None:
        self._customers[customer.id] = customer
        if len(self._customers) >= self._buffer_size:
            self._flush()

    @pg_errors
    def get_opportunity(self, id: str) -> Opportunity | None:
        buffered = self._opportunities.get(id)
        if buffered is not None:
            return buffered
        for db in self._layers:
            row = self._db.execute(
                f"SELECT {OPPORTUNITY_COLUMNS} FROM {db}.opportunities WHERE id = %s", (id,)
            ).fetchone()
            if row is not None:
                return opportunity_from_row(row)
        return None

    def put_opportunity(self, opportunity: Opportunity) -> None:
        id, customer = opportunity.id, opportunity.customer
        previous = self._opportunities.get(id)
        if previous is not None and previous.customer is not None:
            self._buffered_of[previous.customer].discard(id)
        self._opportunities[id] = opportunity
        if customer is not None:
            self._buffered_of.setdefault(customer, set()).add(id)
        if len(self._opportunities) >= self._buffer_size:
            self._flush()

    @pg_errors
    def opportunities_of(self, customer_id: str) -> list[Opportunity]:
        found: dict[str, Opportunity] = {}
        sql = self._rows_of("opportunities", "t.customer = %s")
        sql = f"SELECT {OPPORTUNITY_COLUMNS} FROM ({sql}) o"
        for row in self._db.execute(sql, (customer_id,) * len(self._layers)):
            if row[0] not in self._opportunities:  # a buffered version is newer
                found[row[0]] = opportunity_from_row(row)
        for id in self._buffered_of.get(customer_id, ()):
            found[id] = self._opportunities[id]
        return [found[id] for id in sorted(found)]

    def all_opportunities(self) -> Iterator[Opportunity]:
        """Every opportunity, by id, read a page at a time (by id, so commits may
        interleave)."""
        return self._paged("opportunities", OPPORTUNITY_COLUMNS, opportunity_from_row)

    def customers(self, statuses: Collection[str] | None = None) -> Iterator[Customer]:
        """Every customer (of one of ``statuses``, when given), by id, read a page at a
        time (by id, so commits may interleave): one query per page, none per customer."""
        return self._paged("customers", "*", customer_from_row, statuses)

    def _paged(self, table: str, columns: str, decode: Callable[[Any], T],
               statuses: Collection[str] | None = None) -> Iterator[T]:
        self._flush()
        after = ""
        while True:
            page = self._page(table, columns, decode, after, statuses)
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1].id

    @pg_errors
    def _page(self, table: str, columns: str, decode: Callable[[Any], T], after: str,
              statuses: Collection[str] | None) -> list[T]:
        where = "t.id COLLATE \"C\" > %s"
        params: list[Any] = [after]
        if statuses is not None:
            where += " AND t.status = ANY(%s)"
            params.append(sorted(statuses))
        sql = self._rows_of(table, where)
        sql = f"SELECT {columns} FROM ({sql}) t ORDER BY id COLLATE \"C\" LIMIT {_PAGE}"
        rows = self._db.execute(sql, params * len(self._layers)).fetchall()
        return [decode(r) for r in rows]

    @pg_errors
    def seen(self, type: str, id: str) -> bool:
        if (type, id) in self._seen:
            return True
        return any(
            self._db.execute(
                f"SELECT 1 FROM {db}.seen WHERE type = %s AND id = %s", (type, id)
            ).fetchone()
            for db in self._layers
        )

    def mark_seen(self, type: str, id: str) -> None:
        self._seen.add((type, id))
        if len(self._seen) >= self._buffer_size:
            self._flush()

    @pg_errors
    def _flush(self) -> None:
        """Write the buffer into the open transaction (still undone by a rollback)."""
        db, target = self._db, self._target
        with db.cursor() as cur:
            if self._customers:
                cur.executemany(put_customer_sql(target), map(customer_row, self._customers.values()))
                self._customers = {}
            if self._opportunities:
                cur.executemany(
                    put_opportunity_sql(target), map(opportunity_row, self._opportunities.values())
                )
                self._opportunities, self._buffered_of = {}, {}
            if self._seen:
                cur.executemany(put_seen_sql(target), sorted(self._seen))
                self._seen = set()

    @pg_errors
    def recount_loads(self, open_statuses: Iterable[str], *, fix: bool = False) -> dict[str, int]:
        """Open records per owner, counted from the customers (to check `loads()`);
        with ``fix`` the counts also replace the loads (pending until commit)."""
        self._flush()
        rows = self._rows_of("customers")
        sql = (
            f"SELECT owner, count(*) FROM ({rows}) c WHERE owner IS NOT NULL"
            " AND status = ANY(%s) GROUP BY owner ORDER BY owner COLLATE \"C\""
        )
        wanted = sorted(set(open_statuses))
        counts = {o: int(n) for o, n in self._db.execute(sql, (wanted,))}
        if fix:
            self._counters.replace_loads(counts)
        return counts

