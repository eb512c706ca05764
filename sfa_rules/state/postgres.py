"""A PostgreSQL state: `PostgresStore`, SPEC §9 and §21 for several workers.

The same contract as `SQLiteStore`, the same guarantees, by the same means:

- Memory: customers, opportunities and seen transactions live in the database. Writes
  go to a bounded buffer flushed with ``executemany`` at each commit, or earlier when it
  holds ``buffer_size`` records (into the still-open transaction). Rotations and loads
  (one row per territory / rep) are kept in memory (`Counters`) and written at commit.
- Crash safety: an apply run keeps one transaction open and `commit()` /
  `commit_batch()` ends it, so each batch's records, rotations, loads and resume-journal
  row commit together or not at all. A killed process's connection closes: the server
  rolls back its open transaction and frees its locks.
- Concurrency: an apply run holds the database's run lock (a session advisory lock)
  for its whole life, so two runs execute one after the other (the second waits up to
  ``lock_timeout`` seconds, or as long as it takes when None, then fails with a clear
  `StateError`; ``on_wait`` hears once that it waits); rotations and loads
  are read after the lock is taken, so they end as if the runs were serial.
- Dry runs: one REPEATABLE READ READ ONLY transaction (a stable snapshot of the state),
  whose writes go to temporary tables of the session (dropped when it ends) under a
  savepoint; the state is never written, and no lock is taken.
- Lazy applies (the library's ``session(state=URL)``): a dry run until the first
  commit, which takes the run lock, checks that no commit reached the state since the
  snapshot (the state's ``generation`` counter; else `StateError`, nothing written),
  and copies the temporary tables into the state in one transaction.
- Schema: ``sfa`` in the URL's database, created on first apply; its version is kept in
  ``sfa.meta`` and a newer one is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state.postgres_history import PostgresHistory
from sfa_rules.state.postgres_matches import PostgresMatches, copy_matches
from sfa_rules.state.postgres_parts import (
    OLD_CUSTOMER_COLUMNS,
    OVERLAY,
    SCHEMA_VERSION,
    STATE,
    create_overlay,
    create_state,
    generation,
    pg_errors,
    put_journal_sql,
    redact,
    state_version,
    take_run_lock,
)
from sfa_rules.state.postgres_rows import PostgresRecords
from sfa_rules.state.store import Counters, StateError, decode_decisions

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

_COPY = {
    "customers": (
        "status, owner, territory, owner_locked, fields, assigned_on, status_on,"
        " last_activity, activities, contacts"
    ),
    "opportunities": "customer, status, probability, override, owner, amount, expected_close, seq",
}


class PostgresStore(PostgresHistory, PostgresMatches, PostgresRecords):
    """The state in a PostgreSQL database (see the module docstring for the design).

    ``PostgresStore(url, dry_run=False)``: an apply run; takes the run lock, creates the
    schema on first use and writes at each `commit()`. ``lazy=True``: reads like a dry
    run until its first commit, which promotes it. ``dry_run=True``: reads the state if
    there is one and never writes it. Raises `StateError` when the database cannot be
    reached, holds something else, or is in use.
    """

    def __init__(
        self,
        url: str,
        *,
        dry_run: bool,
        lazy: bool = False,
        lock_timeout: float | None = 30.0,
        buffer_size: int = 10_000,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        if lazy and dry_run:
            raise ValueError("lazy is a way to apply; a dry run never writes")
        self.url, self.where = url, redact(url)
        self.dry_run = dry_run
        self._lazy = lazy
        self._overlaid = dry_run or lazy
        self._lock_timeout = lock_timeout
        self._on_wait = on_wait
        self._buffer_size = buffer_size
        self._customers: dict[str, Customer] = {}
        self._opportunities: dict[str, Opportunity] = {}
        self._buffered_of: dict[str, set[str]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._finished: set[str] = set()
        self._customer_columns: dict[str, str] = {}  # layers of an older version
        self._origin: int | None = None  # a lazy apply's generation of the snapshot
        self._closed = False
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StateError(f"cannot open state {self.where}: {str(e).strip()}") from None
        try:
            self._open()
        except psycopg.Error as e:
            self._release()
            raise StateError(f"cannot read state {self.where}: {str(e).strip()}") from None
        except BaseException:
            self._release()
            raise

    def _open(self) -> None:
        db = self._db
        if self._overlaid:
            create_overlay(db)
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            version = state_version(db, self.where)
            layered = version is not None
            self._layers = (OVERLAY, STATE) if layered else (OVERLAY,)
            old = version is not None and version < SCHEMA_VERSION  # no facts, no history
            self._history_layers = (OVERLAY,) if old or not layered else self._layers
            if old:
                self._customer_columns = {STATE: OLD_CUSTOMER_COLUMNS}
            self._target = OVERLAY
            if self._lazy:
                self._origin = generation(db) if layered else None
            db.execute("SAVEPOINT batch")
        else:
            take_run_lock(db, self.where, self._lock_timeout, self._on_wait)
            db.execute("BEGIN")
            if (state_version(db, self.where) or 0) < SCHEMA_VERSION:
                create_state(db)  # a new state, or an older version's migration
            db.execute("COMMIT")
            db.execute("BEGIN")
            layered = True
            self._layers, self._target = (STATE,), STATE
            self._history_layers = self._layers
        self._counters = Counters(*self._read_counters() if layered else ({}, {}))

    def _read_counters(self) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        rotations = {
            t: json.loads(d)
            for t, d in self._db.execute(f"SELECT territory, data FROM {STATE}.rotations")
        }
        loads = {r: int(n) for r, n in self._db.execute(f"SELECT rep, open FROM {STATE}.loads")}
        return rotations, loads

    # resume journal and transactions

    def _journals(self, run_key: str) -> tuple[str, ...]:
        # a run finished in a dry run hides its journal in the (unwritten) state
        return (OVERLAY,) if run_key in self._finished else self._layers

    @pg_errors
    def resume_point(self, run_key: str) -> tuple[int, Iterator[dict[str, Any]]]:
        """Rows done by the committed batches of ``run_key`` and their decisions, lazily."""
        done = [
            self._db.execute(
                f"SELECT max(rows_done) FROM {db}.journal WHERE run_key = %s", (run_key,)
            ).fetchone()
            for db in self._journals(run_key)
        ]
        rows = [int(d[0]) for d in done if d is not None and d[0] is not None]
        return max(rows, default=0), self._replay(run_key)

    def _replay(self, run_key: str) -> Iterator[dict[str, Any]]:
        # one batch at a time, so that memory holds one blob and commits may interleave
        after = -1
        while True:
            batch = self._next_batch(run_key, after)
            if batch is None:
                return
            after = batch[0]
            yield from decode_decisions(batch[1])

    @pg_errors
    def _next_batch(self, run_key: str, after: int) -> tuple[int, bytes] | None:
        batch: tuple[int, bytes] | None = None
        for db in self._journals(run_key):  # the overlay first: it wins a tie
            row = self._db.execute(
                f"SELECT rows_done, decisions FROM {db}.journal"
                " WHERE run_key = %s AND rows_done > %s ORDER BY rows_done LIMIT 1",
                (run_key, after),
            ).fetchone()
            if row is not None and (batch is None or row[0] < batch[0]):
                batch = (int(row[0]), bytes(row[1]))
        return batch

    @pg_errors
    def commit_batch(self, run_key: str, rows_done: int, decisions: bytes) -> None:
        """Commit the batch's effects together with its journal row (one transaction)."""
        self._db.execute(put_journal_sql(self._target), (run_key, rows_done, decisions))
        self.commit()

    @pg_errors
    def finish_run(self, run_key: str) -> None:
        """The run completed: drop its journal (and commit)."""
        self._db.execute(f"DELETE FROM {self._target}.journal WHERE run_key = %s", (run_key,))
        if self._overlaid and len(self._layers) == 2:
            self._finished.add(run_key)
        self.commit()

    @pg_errors
    def commit(self) -> None:
        """Make every write so far durable (apply) or part of the run's view (dry run)."""
        self._flush()
        db = self._db
        if self._lazy:
            self._promote()
        elif self.dry_run:  # one transaction: a stable view of the state
            db.execute("RELEASE SAVEPOINT batch")
            db.execute("SAVEPOINT batch")
        else:
            self._write_counters(replace=False)
            db.execute(f"UPDATE {STATE}.meta SET value = value + 1 WHERE key = 'generation'")
            db.execute("COMMIT")
            db.execute("BEGIN")
        self._counters.commit()

    def _write_counters(self, *, replace: bool) -> None:
        """The rotations and loads into the state: the pending changes, or (``replace``)
        exactly the store's view of them."""
        db, counters = self._db, self._counters
        with db.cursor() as cur:
            if replace:
                cur.execute(f"DELETE FROM {STATE}.rotations")
                cur.execute(f"DELETE FROM {STATE}.loads")
                rotations: dict[str, Any] = counters.rotations()
                loads = counters.loads()
            else:
                rotations, loads = counters.pending_rotations, counters.pending_loads
            gone = [(t,) for t, d in rotations.items() if d is None]
            kept = [(t, json.dumps(d)) for t, d in rotations.items() if d is not None]
            cur.executemany(f"DELETE FROM {STATE}.rotations WHERE territory = %s", gone)
            cur.executemany(
                f"INSERT INTO {STATE}.rotations VALUES (%s, %s) ON CONFLICT (territory)"
                " DO UPDATE SET data = EXCLUDED.data",
                kept,
            )
            cur.executemany(
                f"INSERT INTO {STATE}.loads VALUES (%s, %s) ON CONFLICT (rep)"
                " DO UPDATE SET open = EXCLUDED.open",
                list(loads.items()),
            )

    def _promote(self) -> None:
        """The first commit of a lazy apply: take the run lock (a timeout leaves the
        store lazy), make sure no commit reached the state since the snapshot, and copy
        the overlay into it in one transaction; from then on an apply store. A changed
        state fails with nothing written, and the store is closed."""
        db = self._db
        take_run_lock(db, self.where, self._lock_timeout, self._on_wait)
        try:
            db.execute("COMMIT")  # ends the snapshot; the temporary tables keep their rows
            db.execute("BEGIN")
            version = state_version(db, self.where)
            now = generation(db) if version is not None else None
            if now != self._origin:
                raise StateError(
                    f"state {self.where} changed since this session started (another run "
                    "applied to it); nothing was written: run again"
                )
            if (version or 0) < SCHEMA_VERSION:
                create_state(db)  # a new state, or an older version's migration
            self._copy_overlay()
            db.execute("COMMIT")
            db.execute("BEGIN")
        except BaseException:
            self._release()
            raise
        self._lazy = self._overlaid = False
        self._layers = self._history_layers = (STATE,)
        self._target, self._customer_columns = STATE, {}
        self._finished = set()
        self._next_history = None  # numbered on in the state, which has them all now

    def _copy_overlay(self) -> None:
        db = self._db
        for table, columns in _COPY.items():
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns.split(", "))
            db.execute(
                f"INSERT INTO {STATE}.{table} SELECT * FROM {OVERLAY}.{table}"
                f" ON CONFLICT (id) DO UPDATE SET {updates}"
            )
        db.execute(f"INSERT INTO {STATE}.seen SELECT * FROM {OVERLAY}.seen ON CONFLICT DO NOTHING")
        db.execute(f"DELETE FROM {STATE}.journal WHERE run_key = ANY(%s)", (sorted(self._finished),))
        db.execute(
            f"INSERT INTO {STATE}.journal SELECT * FROM {OVERLAY}.journal ON CONFLICT"
            " (run_key, rows_done) DO UPDATE SET decisions = EXCLUDED.decisions"
        )
        self._write_counters(replace=True)
        db.execute(f"UPDATE {STATE}.meta SET value = value + 1 WHERE key = 'generation'")
        copy_matches(db, OVERLAY, STATE)
        db.execute(f"INSERT INTO {STATE}.history SELECT * FROM {OVERLAY}.history")
        for table in ("customers", "opportunities", "seen", "journal", "history"):
            db.execute(f"TRUNCATE {OVERLAY}.{table}")

    def _flush(self) -> None:
        """The buffers of records and of history entries into the open transaction."""
        super()._flush()
        self._flush_history()

    @pg_errors
    def rollback(self) -> None:
        """Drop every write since the last commit."""
        self._customers, self._opportunities, self._buffered_of = {}, {}, {}
        self._seen = set()
        self._drop_history()
        self._counters.rollback()
        if self._overlaid:
            self._db.execute("ROLLBACK TO SAVEPOINT batch")
        else:
            self._db.execute("ROLLBACK")
            self._db.execute("BEGIN")

    def close(self) -> None:
        """Drop uncommitted writes and end the session (its lock and temporary tables
        go with it)."""
        if not self._closed:
            self._release()

    def _release(self) -> None:
        self._closed = True
        try:
            self._db.close()  # the server rolls back an open transaction
        except psycopg.Error:
            pass
