"""The state file: `SQLiteStore`, SPEC §9 on SQLite.

Design, and why:

- Memory: customers, opportunities and seen transactions live in SQLite, never all in
  Python. Writes go to a bounded buffer (dicts) flushed with ``executemany`` at each
  commit, or earlier when it holds ``buffer_size`` records (into the still-open
  transaction). A Bloom bitmap of every id in the state and in this run answers most
  "is this id new?" lookups without a SELECT. Rotations and loads are one row per
  territory / rep: they are kept in memory (`Counters`) and written at commit.
- Crash safety: an apply run keeps one write transaction open and `commit()` /
  `commit_batch()` ends it, so each batch's customers, opportunities, seen
  transactions, rotations, loads and resume-journal row land together or not at all.
  WAL with ``synchronous=NORMAL``: a killed process loses nothing committed (the WAL is
  in the OS cache); a power cut may lose the last batches but never splits one, and as
  the journal row commits with its batch, a re-run resumes exactly where the state is.
  FULL would add an fsync per batch for durability the resume journal already gives.
- Concurrency: an apply run holds an exclusive `flock` on ``<state>.lock`` for its
  whole life, so two runs execute one after the other (the second waits up to
  ``lock_timeout`` seconds, or for as long as it takes when None, then fails with a
  clear `StateError`; ``on_wait`` hears once that it waits). Per-batch commits rule out
  holding SQLite's own write lock that long; the lock file is removed at the end.
- Dry runs: the state is attached read-only (``mode=ro``) under an SQLite temporary
  overlay (deleted by SQLite on close) that receives the run's writes inside one
  transaction; the state file is never written. An apply leaves the file in rollback
  journal mode at close, so that a later read-only open creates no -wal/-shm files.
- Lazy applies (the library's ``session(state=PATH)``, where leaving without a commit
  is a dry run): the store starts as a dry run (no lock, nothing on disk touched) and
  its first commit promotes it: the run lock, a check that nobody committed to the
  state since the store read it (else `StateError`, nothing written), then the overlay
  copied into the file in one transaction. A long-lived run (``sfa apply``) takes the
  lock at open instead, so it never finds its state changed under it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state.sqlite_history import SQLiteHistory
from sfa_rules.state.sqlite_lock import RunLock, file_identity
from sfa_rules.state.sqlite_matches import SQLiteMatches
from sfa_rules.state.sqlite_parts import (
    PUT_JOURNAL,
    SCHEMA_VERSION,
    build_bloom,
    check_state,
    copy_overlay,
    create_schema,
    open_overlay,
    precheck,
    read_counters,
    state_errors,
)
from sfa_rules.state.sqlite_rows import SQLiteRecords
from sfa_rules.state.store import Counters, StateError, decode_decisions

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

_FOREVER = 7 * 24 * 3600.0  # "no limit" for SQLite's busy timeout (an int of ms inside)


class SQLiteStore(SQLiteHistory, SQLiteMatches, SQLiteRecords):
    """The state in an SQLite file (see the module docstring for the design).

    ``SQLiteStore(path, dry_run=False)``: an apply run; creates the file on first use,
    takes the run lock, and writes at each `commit()`.
    ``SQLiteStore(path, dry_run=False, lazy=True)``: an apply run that reads like a dry
    run until its first commit, which promotes it into an apply run (see `_promote`);
    closed without a commit, it leaves the disk exactly as it was.
    ``SQLiteStore(path, dry_run=True)``: reads ``path`` if it exists and never writes
    it; ``path=None`` gives an empty disk-backed scratch state for large dry runs.
    Raises `StateError` when the file is not a state or is in use.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        dry_run: bool,
        lazy: bool = False,
        lock_timeout: float | None = 30.0,
        buffer_size: int = 10_000,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        if path is None and not dry_run:
            raise ValueError("an apply run needs a state path")
        if lazy and dry_run:
            raise ValueError("lazy is a way to apply; a dry run never writes")
        self.path = None if path is None else str(path)
        self.dry_run = dry_run
        self._lazy = lazy  # an apply run not promoted yet
        self._overlaid = dry_run or lazy  # writes go to the temporary overlay
        self._lock_timeout = lock_timeout
        self._on_wait = on_wait
        self._buffer_size = buffer_size
        self._customers: dict[str, Customer] = {}
        self._opportunities: dict[str, Opportunity] = {}
        self._buffered_of: dict[str, set[str]] = {}  # customer -> buffered opportunity ids
        self._seen: set[tuple[str, str]] = set()
        self._finished: set[str] = set()  # runs finished in the overlay (base journal stays)
        self._lock: RunLock | None = None
        self._origin: tuple[tuple[int, ...] | None, int | None] = (None, None)
        self._closed = False
        if self.path is not None:
            precheck(self.path, creating=not dry_run)
        # a lazy apply's evidence of the file it reads, taken before the overlay
        # attaches it: see `_changed`
        identity = file_identity(self.path) if lazy and self.path is not None else None
        if self._overlaid:
            self._db, self._layered = open_overlay(self.path)
        else:
            assert self.path is not None
            self._lock = RunLock(f"{self.path}.lock", self.path, lock_timeout, on_wait)
            try:
                self._db, self._layered = self._open_apply(lock_timeout), False
            except BaseException:
                self._lock.release()
                raise
        self._begin(identity)

    def _begin(self, identity: tuple[int, ...] | None) -> None:
        """Start the store's one transaction and read the counters and the bitmap."""
        try:
            # one transaction from here on: the counters, the Bloom bitmap and every
            # later read see the same snapshot of the state
            if self._overlaid:
                self._db.execute("BEGIN")
                self._db.execute("SAVEPOINT batch")
            else:
                self._db.execute("COMMIT")  # a new file's schema
                self._db.execute("BEGIN IMMEDIATE")
            src = "base" if self._layered else "main"
            self._counters = Counters(*read_counters(self._db, src))
            self._bloom = build_bloom(self._db, src)
            if self._lazy:
                version = self._base_version() if self._layered else None
                self._origin = (identity, version)
        except sqlite3.DatabaseError as e:  # e.g. a damaged file
            self._release()
            raise StateError(f"cannot read state {self.path}: {e}") from None
        except BaseException:
            self._release()
            raise

    # opening

    def _open_apply(self, wait: float | None) -> sqlite3.Connection:
        """The file read-write in WAL mode (created if missing), in an open write
        transaction that has given a new file its schema."""
        assert self.path is not None
        timeout = _FOREVER if wait is None else wait
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        except sqlite3.Error as e:
            raise StateError(f"cannot open state {self.path}: {e}") from None
        try:
            check_state(db, "main", self.path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                create_schema(db)  # a new file, or an older version's migration
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.OperationalError as e:
            db.close()
            if e.sqlite_errorcode != sqlite3.SQLITE_BUSY:  # read-only file, full disk, ...
                raise StateError(f"cannot write state {self.path}: {e}") from None
            # a dry run reading the file (rollback-journal mode) holds it shared
            raise StateError(
                f"state {self.path} is in use by another process ({e}); waited {timeout:g} s"
            ) from None
        except BaseException:
            db.close()
            raise
        return db

    # resume journal and transactions

    @state_errors
    def resume_point(self, run_key: str) -> tuple[int, Iterator[dict[str, Any]]]:
        """Rows done by the committed batches of ``run_key`` and their decisions, lazily."""
        done = [
            self._db.execute(
                f"SELECT max(rows_done) FROM {db}.journal WHERE run_key = ?", (run_key,)
            ).fetchone()[0]
            for db in self._journals(run_key)
        ]
        return max((d for d in done if d is not None), default=0), self._replay(run_key)

    def _journals(self, run_key: str) -> tuple[str, ...]:
        # a run finished in a dry run hides its journal in the (read-only) base
        return ("main",) if run_key in self._finished else self._layers()

    def _replay(self, run_key: str) -> Iterator[dict[str, Any]]:
        try:
            yield from self._replay_batches(run_key)
        except sqlite3.DatabaseError as e:
            raise StateError(f"state {self.path}: {e}") from e

    def _replay_batches(self, run_key: str) -> Iterator[dict[str, Any]]:
        # one batch at a time, so that memory holds one blob and commits may interleave
        after = -1
        while True:
            batch: tuple[int, bytes] | None = None
            for db in self._journals(run_key):  # the overlay first: it wins a tie
                row = self._db.execute(
                    f"SELECT rows_done, decisions FROM {db}.journal"
                    " WHERE run_key = ? AND rows_done > ? ORDER BY rows_done LIMIT 1",
                    (run_key, after),
                ).fetchone()
                if row is not None and (batch is None or row[0] < batch[0]):
                    batch = row
            if batch is None:
                return
            after = batch[0]
            yield from decode_decisions(batch[1])

    @state_errors
    def commit_batch(self, run_key: str, rows_done: int, decisions: bytes) -> None:
        """Commit the batch's effects together with its journal row (one transaction)."""
        self._db.execute(PUT_JOURNAL, (run_key, rows_done, decisions))
        self.commit()

    @state_errors
    def finish_run(self, run_key: str) -> None:
        """The run completed: drop its journal (and commit)."""
        self._db.execute("DELETE FROM main.journal WHERE run_key = ?", (run_key,))
        if self._layered:
            self._finished.add(run_key)
        self.commit()

    @state_errors
    def commit(self) -> None:
        """Make every write so far durable (apply) or part of the run's view (dry run)."""
        self._flush()
        db = self._db
        if self._lazy:
            self._promote()
        elif self.dry_run:  # the overlay keeps one transaction: a stable view of the base
            db.execute("RELEASE batch")
            db.execute("SAVEPOINT batch")
        else:
            for tid, data in self._counters.pending_rotations.items():
                if data is None:
                    db.execute("DELETE FROM rotations WHERE territory = ?", (tid,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO rotations VALUES (?, ?)", (tid, json.dumps(data))
                    )
            db.executemany(
                "INSERT OR REPLACE INTO loads VALUES (?, ?)", self._counters.pending_loads.items()
            )
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
        self._counters.commit()

    def _promote(self) -> None:
        """The first commit of a lazy apply: take the run lock, make sure the state is
        still the one this store read, and write the overlay into it in one transaction;
        from then on the store is an apply store (lock held, overlay gone).

        "Still the one" is SQLite's own evidence: the base's ``data_version`` changes
        when another connection commits to it, and the path must still name the same
        file (device and inode); a state that was missing must still be missing, or
        exactly the same file. Anything else fails with nothing written, and the store
        is closed (its snapshot is gone). A lock not obtained in time leaves it lazy."""
        assert self.path is not None
        lock = RunLock(f"{self.path}.lock", self.path, self._lock_timeout, self._on_wait)
        overlay, target = self._db, None
        try:
            overlay.execute("COMMIT")  # ends the read snapshot; the overlay's rows stay
            if self._changed():
                raise StateError(
                    f"state {self.path} changed since this session started (another run "
                    "applied to it); nothing was written: run again"
                )
            target = self._open_apply(self._lock_timeout)
            copy_overlay(
                overlay, target, self._finished, self._counters.rotations(), self._counters.loads()
            )
            target.execute("COMMIT")
            target.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._closed = True
            if target is not None:
                target.close()  # rolls back
            overlay.close()
            lock.release()
            raise
        overlay.close()
        self._db, self._lock = target, lock
        self._lazy = self._overlaid = self._layered = False
        self._finished = set()
        self._next_history = None  # numbered on in the state, which has them all now

    def _changed(self) -> bool:
        assert self.path is not None
        identity, version = self._origin
        now = file_identity(self.path)
        if self._layered:  # the same file, and no commit to it since the snapshot
            same = now is not None and identity is not None and now[:2] == identity[:2]
            return not same or self._base_version() != version
        return now != identity  # missing then and now, or the same untouched empty file

    def _base_version(self) -> int:
        version: int = self._db.execute("PRAGMA base.data_version").fetchone()[0]
        return version

    def _flush(self) -> None:
        """The buffers of records and of match entries into the open transaction."""
        super()._flush()
        self._flush_matches()
        self._flush_history()

    @state_errors
    def rollback(self) -> None:
        """Drop every write since the last commit."""
        self._customers, self._opportunities, self._buffered_of = {}, {}, {}
        self._seen = set()
        self._drop_matches()
        self._drop_history()
        self._counters.rollback()
        if self._overlaid:
            self._db.execute("ROLLBACK TO batch")
        else:
            self._db.execute("ROLLBACK")
            self._db.execute("BEGIN IMMEDIATE")

    @state_errors
    def close(self) -> None:
        """Drop uncommitted writes and release the file (a dry run, or a lazy apply
        never committed, leaves it untouched)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if not self._overlaid:
                # back to a rollback journal, so read-only opens (dry runs) create no
                # -wal/-shm files; skipped while a reader holds the file
                self._db.execute("PRAGMA busy_timeout=200")
                try:
                    self._db.execute("PRAGMA journal_mode=DELETE")
                except sqlite3.OperationalError:
                    pass
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        self._db.close()
        if self._lock is not None:
            self._lock.release()
