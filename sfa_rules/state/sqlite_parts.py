"""The pieces of the state file that `SQLiteStore` is built from: the schema and its
checks, row conversion, opening a dry run's overlay, reading counters and the Bloom
bitmap, and the copy that promotes a lazy apply.

Kept apart from `sfa_rules.state.sqlite` so that the store reads as its design: how a
run opens, reads, buffers, commits and closes the state.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state.store import StateError

SCHEMA_VERSION = 3
# 2: the matching index (match_records, match_keys; SPEC §19)
# 3: customers' follow-up clocks and activity facts, and their history (SPEC §18)

# Customers and opportunities are small rows looked up by id: WITHOUT ROWID keeps
# them in one B-tree (a rowid table adds a second one for the id), about 40% off each
# insert. Files made before this have rowid tables with the same columns: both work.
SCHEMA = """
CREATE TABLE IF NOT EXISTS {db}.customers (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT, territory TEXT,
    owner_locked INTEGER NOT NULL, fields TEXT NOT NULL, assigned_on TEXT, status_on TEXT,
    last_activity TEXT, activities TEXT, contacts INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {db}.opportunities (
    id TEXT PRIMARY KEY, customer TEXT, status TEXT NOT NULL,
    probability NOT NULL,  -- no affinity: keeps int and float apart
    override INTEGER NOT NULL, owner TEXT, amount TEXT, expected_close TEXT,
    seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {db}.opportunities_customer ON opportunities (customer);
CREATE TABLE IF NOT EXISTS {db}.seen (
    type TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {db}.rotations (territory TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {db}.loads (rep TEXT PRIMARY KEY, open INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS {db}.journal (
    run_key TEXT NOT NULL, rows_done INTEGER NOT NULL, decisions BLOB NOT NULL,
    PRIMARY KEY (run_key, rows_done));
CREATE TABLE IF NOT EXISTS {db}.match_records (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, created TEXT, activity TEXT,
    data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {db}.match_keys (
    key TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {db}.history (
    customer TEXT NOT NULL, seq INTEGER NOT NULL, date TEXT, kind TEXT NOT NULL,
    v1 TEXT, v2 TEXT, v3 TEXT, v4 TEXT, v5 TEXT, detail TEXT, source TEXT,
    PRIMARY KEY (customer, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {db}.history_seq (
    id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL);
"""
# Version 3 added these to customers (ALTER TABLE for the files of versions 1 and 2).
FACT_COLUMNS = (
    ("assigned_on", "TEXT"), ("status_on", "TEXT"), ("last_activity", "TEXT"),
    ("activities", "TEXT"), ("contacts", "INTEGER NOT NULL DEFAULT 0"),
)
TABLES = {"customers", "opportunities", "seen", "rotations", "loads", "journal"}
CUSTOMER_COLUMNS = (
    "id, status, owner, territory, owner_locked, fields,"
    " assigned_on, status_on, last_activity, activities, contacts"
)
# a customer of a version 1 or 2 state (read by a dry run): no facts yet
OLD_CUSTOMER_COLUMNS = "id, status, owner, territory, owner_locked, fields, NULL, NULL, NULL, NULL, 0"
OPPORTUNITY_COLUMNS = (
    "id, customer, status, probability, override, owner, amount, expected_close, seq"
)
PUT_CUSTOMER = "INSERT OR REPLACE INTO main.customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
PUT_OPPORTUNITY = "INSERT OR REPLACE INTO main.opportunities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
PUT_SEEN = "INSERT OR IGNORE INTO main.seen VALUES (?, ?)"
PUT_JOURNAL = "INSERT OR REPLACE INTO main.journal VALUES (?, ?, ?)"


def create_schema(db: sqlite3.Connection, schema: str = "main") -> None:
    """The tables, one statement at a time: inside the caller's transaction (which
    ``executescript`` would commit first). Every statement is ``IF NOT EXISTS``: on a
    state of an older schema version it adds what that version lacked (the migration;
    nothing else changes between versions)."""
    have = {row[1] for row in db.execute(f"PRAGMA {schema}.table_info(customers)")}
    for name, kind in FACT_COLUMNS if have else ():  # have: an older version's table
        if name not in have:
            db.execute(f"ALTER TABLE {schema}.customers ADD COLUMN {name} {kind}")
    for statement in SCHEMA.format(db=schema).split(";"):
        if statement.strip():
            db.execute(statement)


def customer_columns(db: sqlite3.Connection, schema: str) -> str:
    """The columns to read customers from ``schema`` as `customer_from_row` takes them
    (a version 1 or 2 state, read by a dry run, has no facts)."""
    have = {row[1] for row in db.execute(f"PRAGMA {schema}.table_info(customers)")}
    return CUSTOMER_COLUMNS if "contacts" in have else OLD_CUSTOMER_COLUMNS


def has_history(db: sqlite3.Connection, src: str) -> bool:
    """Does the state in schema ``src`` have the history table (schema version 3)?"""
    found = db.execute(f"SELECT count(*) FROM {src}.sqlite_master WHERE name = 'history'")
    return bool(found.fetchone()[0])


# Bloom salts: one bitmap for every kind of key, the kind mixed into both probes.
CUSTOMER, OPPORTUNITY, OPPS_OF, SEEN = (
    0x5BD1E9952545F491,
    0x2545F4915BD1E995,
    0x68E31DA41B873593,
    0x1B87359368E31DA4,
)


class Bloom:
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

    def add_many(self, keys: Iterable[str], salt: int) -> None:
        """``add`` of many keys in one call (the loop without a call per key)."""
        bits, mask = self._bits, self._mask
        for key in keys:
            h = hash(key) ^ salt
            a, b = h & mask, (h >> 32) & mask
            bits[a >> 3] |= 1 << (a & 7)
            bits[b >> 3] |= 1 << (b & 7)

    def __call__(self, key: str, salt: int) -> bool:
        h = hash(key) ^ salt
        a, b = h & self._mask, (h >> 32) & self._mask
        return bool(self._bits[a >> 3] >> (a & 7) & 1 and self._bits[b >> 3] >> (b & 7) & 1)


def read_counters(
    db: sqlite3.Connection, src: str
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The rotations and loads of the state in schema ``src``."""
    rotations = {
        t: json.loads(d) for t, d in db.execute(f"SELECT territory, data FROM {src}.rotations")
    }
    loads = dict(db.execute(f"SELECT rep, open FROM {src}.loads"))
    return rotations, loads


def build_bloom(db: sqlite3.Connection, src: str) -> Bloom:
    """A Bloom bitmap of every key of the state in schema ``src``, with room for a
    million more."""
    count = sum(
        db.execute(f"SELECT count(*) FROM {src}.{table}").fetchone()[0]
        # opportunities twice: their ids and their customers' ids
        for table in ("customers", "opportunities", "opportunities", "seen")
    )
    bloom = Bloom(count + 1_000_000)  # room for a million new keys in this run
    for (id,) in db.execute(f"SELECT id FROM {src}.customers"):
        bloom.add(id, CUSTOMER)
    for id, customer in db.execute(f"SELECT id, customer FROM {src}.opportunities"):
        bloom.add(id, OPPORTUNITY)
        if customer is not None:
            bloom.add(customer, OPPS_OF)
    for type, id in db.execute(f"SELECT type, id FROM {src}.seen"):
        bloom.add(type + "\0" + id, SEEN)
    return bloom


def has_matches(db: sqlite3.Connection, src: str) -> bool:
    """Does the state in schema ``src`` have the matching tables (schema version 2)?
    A version 1 state read by a dry run has none until an apply migrates it."""
    found = db.execute(
        f"SELECT count(*) FROM {src}.sqlite_master WHERE name IN ('match_records', 'match_keys')"
    ).fetchone()[0]
    return bool(found == 2)


def customer_from_row(row: tuple[Any, ...]) -> Customer:
    # most customers keep no fields and few activities: no parse for an empty object
    activities = json.loads(row[9]) if row[9] and row[9] != "{}" else {}
    fields = json.loads(row[5]) if row[5] != "{}" else {}
    return Customer(
        row[0], row[1], row[2], row[3], bool(row[4]), fields,
        row[6], row[7], row[8], activities, row[10],
    )


# default=str: a Parquet date or Decimal comes back as its text (JSON has no such type).
# Built once: json.dumps with options builds a new encoder on every call.
_encode_fields = json.JSONEncoder(separators=(",", ":"), default=str).encode


def customer_row(c: Customer) -> tuple[Any, ...]:
    fields = _encode_fields(c.fields) if c.fields else "{}"
    activities = _encode_fields(c.activities) if c.activities else None
    return (
        c.id, c.status, c.owner, c.territory, int(c.owner_locked), fields,
        c.assigned_on, c.status_on, c.last_activity, activities, c.contacts,
    )


def opportunity_from_row(row: tuple[Any, ...]) -> Opportunity:
    return Opportunity(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8])


def opportunity_row(o: Opportunity) -> tuple[Any, ...]:
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


def state_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """SQLite failing mid-run (a damaged file, a full disk) raises `StateError`, which
    the CLI reports without a traceback."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise StateError(f"state {getattr(args[0], 'path', None) or '(scratch)'}: {e}") from e

    return wrapper


def precheck(path: str, *, creating: bool = False) -> None:
    """Refuse a folder or a non-SQLite file before anything is created next to it, and,
    when the run will create the file (``creating``), a folder it cannot be made in:
    said before the first row, not at the commit after the last."""
    if os.path.isdir(path):
        raise StateError(f"state {path} is a folder, not a state file")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        if creating and not os.path.isdir(folder):
            raise StateError(f"cannot create state {path}: the folder {folder} does not "
                             "exist") from None
        if creating and not os.access(folder, os.W_OK):
            raise StateError(f"cannot create state {path}: the folder {folder} is not "
                             "writable") from None
        return
    except OSError as e:
        raise StateError(f"cannot open state {path}: {e.strerror}") from None
    if head and head != b"SQLite format 3\x00":
        raise StateError(f"{path} is not an sfa state file (not an SQLite database)")


def open_overlay(path: str | None) -> tuple[sqlite3.Connection, bool]:
    """A temporary overlay for a run's writes, with the state at ``path`` attached
    read-only as ``base`` if it holds one (then True)."""
    # "" is an SQLite temporary on-disk database, deleted when the connection closes
    db = sqlite3.connect("", uri=True, isolation_level=None, timeout=30.0)
    db.executescript(SCHEMA.format(db="main"))
    if path is None or not os.path.exists(path):
        return db, False
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro"
    try:
        try:
            db.execute("ATTACH DATABASE ? AS base", (uri,))
        except sqlite3.OperationalError as e:
            raise StateError(f"cannot open state {path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise StateError(f"{path} is not an sfa state file ({e})") from None
        layered = check_state(db, "base", path)
    except BaseException:
        db.close()
        raise
    if not layered:
        db.execute("DETACH DATABASE base")
    return db, layered


def check_state(db: sqlite3.Connection, schema: str, path: str | None) -> bool:
    """Fail with StateError unless ``schema`` is an sfa state or empty; True if it
    holds a state."""
    try:
        version = db.execute(f"PRAGMA {schema}.user_version").fetchone()[0]
        tables = {
            r[0] for r in db.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type='table'")
        }
    except sqlite3.OperationalError as e:  # locked past the timeout, unreadable, ...
        raise StateError(f"cannot read state {path}: {e}") from None
    except sqlite3.DatabaseError as e:
        raise StateError(f"{path} is not an sfa state file ({e})") from None
    if version == 0 and not tables:
        return False
    if version == 0 or not TABLES <= tables:
        raise StateError(f"{path} is an SQLite database but not an sfa state file")
    if version > SCHEMA_VERSION:
        raise StateError(
            f"state {path} has schema version {version}, newer than this version "
            f"of sfa-rules understands ({SCHEMA_VERSION}); upgrade sfa-rules"
        )
    return True


def copy_overlay(
    overlay: sqlite3.Connection,
    target: sqlite3.Connection,
    finished: Iterable[str],
    rotations: Mapping[str, Mapping[str, Any]],
    loads: Mapping[str, int],
) -> None:
    """Write a run's overlay into the state ``target`` (in the caller's transaction):
    its rows replace the state's, the journals of runs it finished go (before its own
    journal rows, which may restart such a run), and the rotations and loads become
    exactly ``rotations`` and ``loads`` (the state's, as the run read them, with the
    run's changes: resets included).

    Rows stream from one connection to the other: memory holds a cursor's worth."""
    target.executemany(
        PUT_CUSTOMER, overlay.execute(f"SELECT {CUSTOMER_COLUMNS} FROM main.customers")
    )
    target.executemany(
        PUT_OPPORTUNITY, overlay.execute(f"SELECT {OPPORTUNITY_COLUMNS} FROM main.opportunities")
    )
    target.executemany(PUT_SEEN, overlay.execute("SELECT type, id FROM main.seen"))
    copy_matches(overlay, target)
    target.executemany(
        "INSERT OR REPLACE INTO main.history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        overlay.execute("SELECT * FROM main.history"),
    )
    target.executemany(
        "INSERT OR REPLACE INTO main.history_seq VALUES (0, ?)",
        overlay.execute("SELECT seq FROM main.history_seq"),
    )
    target.executemany("DELETE FROM main.journal WHERE run_key = ?", ((k,) for k in finished))
    target.executemany(
        PUT_JOURNAL, overlay.execute("SELECT run_key, rows_done, decisions FROM main.journal")
    )
    target.execute("DELETE FROM main.rotations")
    target.executemany(
        "INSERT INTO main.rotations VALUES (?, ?)",
        ((tid, json.dumps(data)) for tid, data in rotations.items()),
    )
    target.execute("DELETE FROM main.loads")
    target.executemany("INSERT INTO main.loads VALUES (?, ?)", loads.items())


def copy_matches(overlay: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """The overlay's match entries replace the target's, index keys included."""
    for id, seq, created, activity, data in overlay.execute(
        "SELECT id, seq, created, activity, data FROM main.match_records"
    ):
        old = target.execute("SELECT data FROM main.match_records WHERE id = ?", (id,)).fetchone()
        if old is not None:
            target.executemany(
                "DELETE FROM main.match_keys WHERE key = ? AND id = ?",
                ((key, id) for key in json.loads(old[0])["keys"]),
            )
        target.execute(
            "INSERT OR REPLACE INTO main.match_records VALUES (?, ?, ?, ?, ?)",
            (id, seq, created, activity, data),
        )
    target.executemany(
        "INSERT OR IGNORE INTO main.match_keys VALUES (?, ?)",
        overlay.execute("SELECT key, id FROM main.match_keys"),
    )
