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
  ``lock_timeout`` seconds, then fails with a clear `StateError`). Per-batch commits
  rule out holding SQLite's own write lock that long; the lock file stays behind.
- Dry runs: the state is attached read-only (``mode=ro``) under an SQLite temporary
  overlay (deleted by SQLite on close) that receives the run's writes inside one
  transaction; the state file is never written. An apply leaves the file in rollback
  journal mode at close, so that a later read-only open creates no -wal/-shm files.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar
from urllib.parse import quote

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state import Counters, StateError, decode_decisions

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {db}.customers (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT, territory TEXT,
    owner_locked INTEGER NOT NULL, fields TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {db}.opportunities (
    id TEXT PRIMARY KEY, customer TEXT, status TEXT NOT NULL,
    probability NOT NULL,  -- no affinity: keeps int and float apart
    override INTEGER NOT NULL, owner TEXT, amount TEXT, expected_close TEXT,
    seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS {db}.opportunities_customer ON opportunities (customer);
CREATE TABLE IF NOT EXISTS {db}.seen (
    type TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {db}.rotations (territory TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {db}.loads (rep TEXT PRIMARY KEY, open INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS {db}.journal (
    run_key TEXT NOT NULL, rows_done INTEGER NOT NULL, decisions BLOB NOT NULL,
    PRIMARY KEY (run_key, rows_done));
"""
_TABLES = {"customers", "opportunities", "seen", "rotations", "loads", "journal"}
_CUSTOMER_COLUMNS = "id, status, owner, territory, owner_locked, fields"
_OPPORTUNITY_COLUMNS = (
    "id, customer, status, probability, override, owner, amount, expected_close, seq"
)

# Bloom salts: one bitmap for every kind of key, the kind mixed into both probes.
_CUSTOMER, _OPPORTUNITY, _OPPS_OF, _SEEN = (
    0x5BD1E9952545F491,
    0x2545F4915BD1E995,
    0x68E31DA41B873593,
    0x1B87359368E31DA4,
)


class _Bloom:
    """Fixed-size bitmap with two probes per key: "absent" is certain, "present" is a
    hint (about 1.4% false positives at one key per 16 bits)."""

    def __init__(self, expected_keys: int) -> None:
        bits = 1 << max(24, (16 * expected_keys).bit_length())  # at least 2 MiB
        self._mask = bits - 1
        self._bits = bytearray(bits >> 3)

    def add(self, key: str, salt: int) -> None:
        h = hash(key) ^ salt
        a, b = h & self._mask, (h >> 32) & self._mask
        self._bits[a >> 3] |= 1 << (a & 7)
        self._bits[b >> 3] |= 1 << (b & 7)

    def __call__(self, key: str, salt: int) -> bool:
        h = hash(key) ^ salt
        a, b = h & self._mask, (h >> 32) & self._mask
        return bool(self._bits[a >> 3] >> (a & 7) & 1 and self._bits[b >> 3] >> (b & 7) & 1)


def _customer(row: tuple[Any, ...]) -> Customer:
    return Customer(row[0], row[1], row[2], row[3], bool(row[4]), json.loads(row[5]))


def _customer_row(c: Customer) -> tuple[Any, ...]:
    # default=str: a Parquet date or Decimal comes back as its text (JSON has no such type)
    fields = json.dumps(c.fields, separators=(",", ":"), default=str)
    return (c.id, c.status, c.owner, c.territory, int(c.owner_locked), fields)


def _opportunity(row: tuple[Any, ...]) -> Opportunity:
    return Opportunity(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8])


def _opportunity_row(o: Opportunity) -> tuple[Any, ...]:
    return (
        o.id,
        o.customer,
        o.status,
        o.probability,
        int(o.override),
        o.owner,
        o.amount,
        o.expected_close,
        o.seq,
    )


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _state_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """SQLite failing mid-run (a damaged file, a full disk) raises `StateError`, which
    the CLI reports without a traceback."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise StateError(f"state {getattr(args[0], 'path', None) or '(scratch)'}: {e}") from e

    return wrapper


def _precheck(path: str) -> None:
    """Refuse a folder or a non-SQLite file before anything is created next to it."""
    if os.path.isdir(path):
        raise StateError(f"state {path} is a folder, not a state file")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return
    except OSError as e:
        raise StateError(f"cannot open state {path}: {e.strerror}") from None
    if head and head != b"SQLite format 3\x00":
        raise StateError(f"{path} is not an sfa state file (not an SQLite database)")


class _Lock:
    """An exclusive `flock` on a sidecar file, held for the life of an apply run."""

    def __init__(self, path: str, state: str, timeout: float) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StateError(f"cannot open state {state}: {e.strerror}") from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
                    os.close(self._fd)
                    raise StateError(
                        f"state {state} is in use by another run (pid {holder or '?'}); "
                        f"waited {timeout:g} s"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


class SQLiteStore:
    """The state in an SQLite file (see the module docstring for the design).

    ``SQLiteStore(path, dry_run=False)``: an apply run; creates the file on first use,
    takes the run lock, and writes at each `commit()`.
    ``SQLiteStore(path, dry_run=True)``: reads ``path`` if it exists and never writes
    it; ``path=None`` gives an empty disk-backed scratch state for large dry runs.
    Raises `StateError` when the file is not a state or is in use.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        dry_run: bool,
        lock_timeout: float = 30.0,
        buffer_size: int = 10_000,
    ) -> None:
        if path is None and not dry_run:
            raise ValueError("an apply run needs a state path")
        self.path = None if path is None else str(path)
        self.dry_run = dry_run
        self._buffer_size = buffer_size
        self._customers: dict[str, Customer] = {}
        self._opportunities: dict[str, Opportunity] = {}
        self._buffered_of: dict[str, set[str]] = {}  # customer -> buffered opportunity ids
        self._seen: set[tuple[str, str]] = set()
        self._finished: set[str] = set()  # runs finished in a dry run (base journal stays)
        self._lock: _Lock | None = None
        self._closed = False
        if path is not None:
            _precheck(str(path))
        if dry_run or path is None:
            self._db, self._layered = self._open_overlay()
        else:
            self._lock = _Lock(f"{path}.lock", str(path), lock_timeout)
            try:
                self._db, self._layered = self._open_apply(lock_timeout), False
            except BaseException:
                self._lock.release()
                raise
        try:
            # one transaction from here on: the counters, the Bloom bitmap and every
            # later read see the same snapshot of the state
            self._db.execute("BEGIN IMMEDIATE" if not self.dry_run else "BEGIN")
            if self.dry_run:
                self._db.execute("SAVEPOINT batch")
            self._counters = Counters(*self._read_counters())
            self._bloom = self._build_bloom()
        except sqlite3.DatabaseError as e:  # e.g. a damaged file
            self._release()
            raise StateError(f"cannot read state {self.path}: {e}") from None
        except BaseException:
            self._release()
            raise

    # opening

    def _open_apply(self, timeout: float) -> sqlite3.Connection:
        assert self.path is not None
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        except sqlite3.Error as e:
            raise StateError(f"cannot open state {self.path}: {e}") from None
        try:
            self._check(db, "main")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:
                db.executescript(
                    "BEGIN IMMEDIATE;"
                    + _SCHEMA.format(db="main")
                    + f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                )
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

    def _open_overlay(self) -> tuple[sqlite3.Connection, bool]:
        # "" is an SQLite temporary on-disk database, deleted when the connection closes
        db = sqlite3.connect("", uri=True, isolation_level=None, timeout=30.0)
        db.executescript(_SCHEMA.format(db="main"))
        if self.path is None or not Path(self.path).exists():
            return db, False
        uri = "file:" + quote(os.path.abspath(self.path)) + "?mode=ro"
        try:
            try:
                db.execute("ATTACH DATABASE ? AS base", (uri,))
            except sqlite3.OperationalError as e:
                raise StateError(f"cannot open state {self.path}: {e}") from None
            except sqlite3.DatabaseError as e:
                raise StateError(f"{self.path} is not an sfa state file ({e})") from None
            layered = self._check(db, "base")
        except BaseException:
            db.close()
            raise
        if not layered:
            db.execute("DETACH DATABASE base")
        return db, layered

    def _check(self, db: sqlite3.Connection, schema: str) -> bool:
        """Fail with StateError unless ``schema`` is an sfa state or empty; True if it
        holds a state."""
        try:
            version = db.execute(f"PRAGMA {schema}.user_version").fetchone()[0]
            tables = {
                r[0]
                for r in db.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type='table'")
            }
        except sqlite3.OperationalError as e:  # locked past the timeout, unreadable, ...
            raise StateError(f"cannot read state {self.path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise StateError(f"{self.path} is not an sfa state file ({e})") from None
        if version == 0 and not tables:
            return False
        if version == 0 or not _TABLES <= tables:
            raise StateError(f"{self.path} is an SQLite database but not an sfa state file")
        if version > SCHEMA_VERSION:
            raise StateError(
                f"state {self.path} has schema version {version}, newer than this version "
                f"of sfa-rules understands ({SCHEMA_VERSION}); upgrade sfa-rules"
            )
        return True

    def _layers(self) -> tuple[str, ...]:
        return ("main", "base") if self._layered else ("main",)

    def _read_counters(self) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        src = "base" if self._layered else "main"
        rotations = {
            t: json.loads(d)
            for t, d in self._db.execute(f"SELECT territory, data FROM {src}.rotations")
        }
        loads = dict(self._db.execute(f"SELECT rep, open FROM {src}.loads"))
        return rotations, loads

    def _build_bloom(self) -> _Bloom:
        src = "base" if self._layered else "main"
        count = sum(
            self._db.execute(f"SELECT count(*) FROM {src}.{table}").fetchone()[0]
            # opportunities twice: their ids and their customers' ids
            for table in ("customers", "opportunities", "opportunities", "seen")
        )
        bloom = _Bloom(count + 1_000_000)  # room for a million new keys in this run
        for (id,) in self._db.execute(f"SELECT id FROM {src}.customers"):
            bloom.add(id, _CUSTOMER)
        for id, customer in self._db.execute(f"SELECT id, customer FROM {src}.opportunities"):
            bloom.add(id, _OPPORTUNITY)
            if customer is not None:
                bloom.add(customer, _OPPS_OF)
        for type, id in self._db.execute(f"SELECT type, id FROM {src}.seen"):
            bloom.add(type + "\0" + id, _SEEN)
        return bloom

    # customers and opportunities

    @_state_errors
    def get_customer(self, id: str) -> Customer | None:
        if not self._bloom(id, _CUSTOMER):
            return None
        buffered = self._customers.get(id)
        if buffered is not None:
            return buffered
        for db in self._layers():
            row = self._db.execute(
                f"SELECT {_CUSTOMER_COLUMNS} FROM {db}.customers WHERE id = ?", (id,)
            ).fetchone()
            if row is not None:
                return _customer(row)
        return None

    @_state_errors
    def put_customer(self, customer: Customer) -> None:
        self._bloom.add(customer.id, _CUSTOMER)
        self._customers[customer.id] = customer
        if len(self._customers) >= self._buffer_size:
            self._flush()

    @_state_errors
    def get_opportunity(self, id: str) -> Opportunity | None:
        if not self._bloom(id, _OPPORTUNITY):
            return None
        buffered = self._opportunities.get(id)
        if buffered is not None:
            return buffered
        for db in self._layers():
            row = self._db.execute(
                f"SELECT {_OPPORTUNITY_COLUMNS} FROM {db}.opportunities WHERE id = ?", (id,)
            ).fetchone()
            if row is not None:
                return _opportunity(row)
        return None

    @_state_errors
    def put_opportunity(self, opportunity: Opportunity) -> None:
        id, customer = opportunity.id, opportunity.customer
        self._bloom.add(id, _OPPORTUNITY)
        previous = self._opportunities.get(id)
        if previous is not None and previous.customer is not None:
            self._buffered_of[previous.customer].discard(id)
        self._opportunities[id] = opportunity
        if customer is not None:
            self._bloom.add(customer, _OPPS_OF)
            self._buffered_of.setdefault(customer, set()).add(id)
        if len(self._opportunities) >= self._buffer_size:
            self._flush()

    @_state_errors
    def opportunities_of(self, customer_id: str) -> list[Opportunity]:
        if not self._bloom(customer_id, _OPPS_OF):
            return []
        found: dict[str, Opportunity] = {}
        sql = f"SELECT {_OPPORTUNITY_COLUMNS} FROM main.opportunities WHERE customer = ?"
        if self._layered:  # base rows the overlay replaced (maybe moved elsewhere) are stale
            sql += (
                f" UNION ALL SELECT {_OPPORTUNITY_COLUMNS} FROM base.opportunities b"
                " WHERE customer = ? AND NOT EXISTS"
                " (SELECT 1 FROM main.opportunities m WHERE m.id = b.id)"
            )
        params = (customer_id,) * (2 if self._layered else 1)
        for row in self._db.execute(sql, params):
            if row[0] not in self._opportunities:  # a buffered version is newer
                found[row[0]] = _opportunity(row)
        for id in self._buffered_of.get(customer_id, ()):
            found[id] = self._opportunities[id]
        return [found[id] for id in sorted(found)]

    def all_opportunities(self) -> Iterator[Opportunity]:
        """Every opportunity, by id; reads a snapshot taken at the first ``next()``."""
        self._flush()
        sql = f"SELECT {_OPPORTUNITY_COLUMNS} FROM main.opportunities"
        if self._layered:
            sql += (
                f" UNION ALL SELECT {_OPPORTUNITY_COLUMNS} FROM base.opportunities b"
                " WHERE NOT EXISTS (SELECT 1 FROM main.opportunities m WHERE m.id = b.id)"
            )
        try:
            for row in self._db.execute(sql + " ORDER BY id"):
                yield _opportunity(row)
        except sqlite3.DatabaseError as e:
            raise StateError(f"state {self.path}: {e}") from e

    @_state_errors
    def seen(self, type: str, id: str) -> bool:
        if not self._bloom(type + "\0" + id, _SEEN):
            return False
        if (type, id) in self._seen:
            return True
        return any(
            self._db.execute(
                f"SELECT 1 FROM {db}.seen WHERE type = ? AND id = ?", (type, id)
            ).fetchone()
            for db in self._layers()
        )

    @_state_errors
    def mark_seen(self, type: str, id: str) -> None:
        self._bloom.add(type + "\0" + id, _SEEN)
        self._seen.add((type, id))
        if len(self._seen) >= self._buffer_size:
            self._flush()

    def _flush(self) -> None:
        """Write the buffer into the open transaction (still undone by a rollback)."""
        db = self._db
        if self._customers:
            db.executemany(
                "INSERT OR REPLACE INTO main.customers VALUES (?, ?, ?, ?, ?, ?)",
                map(_customer_row, self._customers.values()),
            )
            self._customers = {}
        if self._opportunities:
            db.executemany(
                "INSERT OR REPLACE INTO main.opportunities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                map(_opportunity_row, self._opportunities.values()),
            )
            self._opportunities, self._buffered_of = {}, {}
        if self._seen:
            db.executemany("INSERT OR IGNORE INTO main.seen VALUES (?, ?)", self._seen)
            self._seen = set()

    # rotations and loads

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

    @_state_errors
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

    # resume journal and transactions

    @_state_errors
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

    def begin_batch(self, run_key: str) -> None:
        """Nothing to prepare: a write transaction is always open between commits."""

    @_state_errors
    def commit_batch(self, run_key: str, rows_done: int, decisions: bytes) -> None:
        """Commit the batch's effects together with its journal row (one transaction)."""
        self._db.execute(
            "INSERT OR REPLACE INTO main.journal VALUES (?, ?, ?)", (run_key, rows_done, decisions)
        )
        self.commit()

    @_state_errors
    def finish_run(self, run_key: str) -> None:
        """The run completed: drop its journal (and commit)."""
        self._db.execute("DELETE FROM main.journal WHERE run_key = ?", (run_key,))
        if self._layered:
            self._finished.add(run_key)
        self.commit()

    @_state_errors
    def commit(self) -> None:
        """Make every write so far durable (apply) or part of the run's view (dry run)."""
        self._flush()
        db = self._db
        if self.dry_run:  # the overlay keeps one transaction: a stable view of the base
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

    @_state_errors
    def rollback(self) -> None:
        """Drop every write since the last commit."""
        self._customers, self._opportunities, self._buffered_of = {}, {}, {}
        self._seen = set()
        self._counters.rollback()
        if self.dry_run:
            self._db.execute("ROLLBACK TO batch")
        else:
            self._db.execute("ROLLBACK")
            self._db.execute("BEGIN IMMEDIATE")

    @_state_errors
    def close(self) -> None:
        """Drop uncommitted writes and release the file (a dry run leaves it untouched)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if not self.dry_run:
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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
