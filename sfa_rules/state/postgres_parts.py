"""The pieces of a PostgreSQL state that `PostgresStore` is built from: the schema, its
version check, row conversion, the run lock (an advisory lock) and the errors.

The state lives in the schema ``sfa`` of the database the URL names (created on first
use); a dry run's writes go to temporary tables of its own session (``pg_temp``).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import psycopg

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state.store import StateError

SCHEMA_VERSION = 2  # 2: customers' facts and their history (SPEC §18)
STATE = "sfa"  # the schema that holds the state
OVERLAY = "pg_temp"  # a dry run's writes: this session's temporary tables

# Values are kept as the SQLite file keeps them: fields and probability as JSON text
# (jsonb would reorder keys; a probability stays an int or a float).
TABLES_DDL = """
CREATE {temp} TABLE IF NOT EXISTS {db}.customers (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT, territory TEXT,
    owner_locked BOOLEAN NOT NULL, fields TEXT NOT NULL, assigned_on TEXT, status_on TEXT,
    last_activity TEXT, activities TEXT, contacts BIGINT NOT NULL DEFAULT 0);
CREATE {temp} TABLE IF NOT EXISTS {db}.opportunities (
    id TEXT PRIMARY KEY, customer TEXT, status TEXT NOT NULL, probability TEXT NOT NULL,
    override BOOLEAN NOT NULL, owner TEXT, amount TEXT, expected_close TEXT,
    seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS opportunities_customer ON {db}.opportunities (customer);
CREATE {temp} TABLE IF NOT EXISTS {db}.seen (
    type TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (type, id));
CREATE {temp} TABLE IF NOT EXISTS {db}.rotations (territory TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE {temp} TABLE IF NOT EXISTS {db}.loads (rep TEXT PRIMARY KEY, open BIGINT NOT NULL);
CREATE {temp} TABLE IF NOT EXISTS {db}.journal (
    run_key TEXT NOT NULL, rows_done BIGINT NOT NULL, decisions BYTEA NOT NULL,
    PRIMARY KEY (run_key, rows_done));
CREATE {temp} TABLE IF NOT EXISTS {db}.match_records (
    id TEXT PRIMARY KEY, seq BIGINT NOT NULL, created TEXT, activity TEXT,
    data TEXT NOT NULL);
CREATE {temp} TABLE IF NOT EXISTS {db}.match_keys (
    key TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (key, id));
CREATE {temp} TABLE IF NOT EXISTS {db}.history (
    customer TEXT NOT NULL, seq BIGINT NOT NULL, date TEXT, kind TEXT NOT NULL,
    v1 TEXT, v2 TEXT, v3 TEXT, v4 TEXT, v5 TEXT, detail TEXT, source TEXT,
    PRIMARY KEY (customer, seq));
CREATE INDEX IF NOT EXISTS history_seq ON {db}.history (seq);
"""
# Version 2 added these to customers (the migration of a version 1 state adds them).
MIGRATE_CUSTOMERS = (
    "ALTER TABLE {db}.customers ADD COLUMN IF NOT EXISTS assigned_on TEXT,"
    " ADD COLUMN IF NOT EXISTS status_on TEXT, ADD COLUMN IF NOT EXISTS last_activity TEXT,"
    " ADD COLUMN IF NOT EXISTS activities TEXT,"
    " ADD COLUMN IF NOT EXISTS contacts BIGINT NOT NULL DEFAULT 0"
)
TABLES = {"customers", "opportunities", "seen", "rotations", "loads", "journal", "meta",
          "match_records", "match_keys"}
CUSTOMER_COLUMNS = (
    "id, status, owner, territory, owner_locked, fields,"
    " assigned_on, status_on, last_activity, activities, contacts"
)
# a customer of a version 1 state (read by a dry run): no facts yet
OLD_CUSTOMER_COLUMNS = (
    "id, status, owner, territory, owner_locked, fields,"
    " NULL::text, NULL::text, NULL::text, NULL::text, 0::bigint"
)
OPPORTUNITY_COLUMNS = (
    "id, customer, status, probability, override, owner, amount, expected_close, seq"
)


def put_customer_sql(db: str) -> str:
    return (
        f"INSERT INTO {db}.customers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE"
        " SET status = EXCLUDED.status, owner = EXCLUDED.owner, territory = EXCLUDED.territory,"
        " owner_locked = EXCLUDED.owner_locked, fields = EXCLUDED.fields,"
        " assigned_on = EXCLUDED.assigned_on, status_on = EXCLUDED.status_on,"
        " last_activity = EXCLUDED.last_activity, activities = EXCLUDED.activities,"
        " contacts = EXCLUDED.contacts"
    )


def put_opportunity_sql(db: str) -> str:
    return (
        f"INSERT INTO {db}.opportunities VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET customer = EXCLUDED.customer,"
        " status = EXCLUDED.status, probability = EXCLUDED.probability,"
        " override = EXCLUDED.override, owner = EXCLUDED.owner, amount = EXCLUDED.amount,"
        " expected_close = EXCLUDED.expected_close, seq = EXCLUDED.seq"
    )


def put_seen_sql(db: str) -> str:
    return f"INSERT INTO {db}.seen VALUES (%s, %s) ON CONFLICT DO NOTHING"


def put_journal_sql(db: str) -> str:
    return (
        f"INSERT INTO {db}.journal VALUES (%s, %s, %s)"
        " ON CONFLICT (run_key, rows_done) DO UPDATE SET decisions = EXCLUDED.decisions"
    )


def create_state(db: psycopg.Connection[Any]) -> None:
    """The state's schema and tables, in the caller's transaction; on a state of an
    older version, what that version lacked (the migration)."""
    db.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE}")
    exists = db.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
        " AND table_name = 'customers'", (STATE,)
    ).fetchone()
    if exists is not None:
        db.execute(MIGRATE_CUSTOMERS.format(db=STATE))
    run_script(db, TABLES_DDL.format(temp="", db=STATE))
    db.execute(f"CREATE TABLE IF NOT EXISTS {STATE}.meta (key TEXT PRIMARY KEY, value BIGINT)")
    db.execute(f"INSERT INTO {STATE}.meta VALUES ('generation', 0) ON CONFLICT DO NOTHING")
    db.execute(
        f"INSERT INTO {STATE}.meta VALUES ('schema_version', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (SCHEMA_VERSION,),
    )


def create_overlay(db: psycopg.Connection[Any]) -> None:
    """This session's temporary tables for a dry run's writes."""
    run_script(db, TABLES_DDL.format(temp="TEMPORARY", db=OVERLAY))


def run_script(db: psycopg.Connection[Any], script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement.encode())


def state_version(db: psycopg.Connection[Any], where: str) -> int | None:
    """The state's schema version (None: no state there yet); StateError unless the
    schema ``sfa`` is missing or an sfa state this version understands."""
    tables = {
        r[0]
        for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (STATE,),
        )
    }
    exists = db.execute(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (STATE,)
    ).fetchone()
    if exists is None:
        return None
    if not TABLES <= tables:
        raise StateError(f"{where}: the schema {STATE!r} is not an sfa state")
    row = db.execute(f"SELECT value FROM {STATE}.meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row is not None else 0
    if version > SCHEMA_VERSION:
        raise StateError(
            f"state {where} has schema version {version}, newer than this version "
            f"of sfa-rules understands ({SCHEMA_VERSION}); upgrade sfa-rules"
        )
    return version


def generation(db: psycopg.Connection[Any]) -> int:
    """How many commits the state has had: what a lazy apply checks before promoting."""
    row = db.execute(f"SELECT value FROM {STATE}.meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row is not None else 0


# the run lock: one advisory lock per database (advisory locks are per database)
LOCK_KEY = (0x5FA, 0x57A7E)


def take_run_lock(
    db: psycopg.Connection[Any], where: str, timeout: float | None,
    on_wait: Callable[[str], None] | None = None,
) -> None:
    """Hold the database's run lock for the session's life (released when it ends,
    also when the process is killed); StateError after ``timeout`` seconds (None: wait
    as long as it takes); ``on_wait`` is told once, naming the holder, that it waits."""
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        row = db.execute("SELECT pg_try_advisory_lock(%s, %s)", LOCK_KEY).fetchone()
        if row is not None and row[0]:
            return
        holder = db.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            LOCK_KEY,
        ).fetchone()
        busy = f"state {where} is in use by another run (server pid {holder[0] if holder else '?'})"
        if deadline is not None and time.monotonic() >= deadline:
            raise StateError(f"{busy}; waited {timeout:g} s")
        if on_wait is not None and not told:
            on_wait(f"{busy}; waiting for it to finish")
            told = True
        time.sleep(0.05)


# libpq's password keys in a URL's query (?password=..., ?sslpassword=...)
_QUERY_PASSWORD = re.compile(r"(?<![^&])((?:ssl)?password)=[^&]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL without its passwords (``user:***@``, ``?password=***``), for messages;
    the rest as written (``postgresql:///db`` keeps its empty host)."""
    head, mark, query = url.partition("?")
    password = urlsplit(url).password
    if password is not None:  # scheme://user:password@host...: the last @ ends it
        scheme, slashes, rest = head.partition("//")
        auth, at, host = rest.rpartition("@")
        head = f"{scheme}{slashes}{auth.split(':', 1)[0]}:***{at}{host}"
    return head + mark + _QUERY_PASSWORD.sub(r"\1=***", query)


def customer_from_row(row: tuple[Any, ...]) -> Customer:
    activities = json.loads(row[9]) if row[9] else {}
    return Customer(
        row[0], row[1], row[2], row[3], bool(row[4]), json.loads(row[5]),
        row[6], row[7], row[8], activities, int(row[10]),
    )


_encode_fields = json.JSONEncoder(separators=(",", ":"), default=str).encode


def customer_row(c: Customer) -> tuple[Any, ...]:
    fields = _encode_fields(c.fields) if c.fields else "{}"
    activities = _encode_fields(c.activities) if c.activities else None
    return (
        c.id, c.status, c.owner, c.territory, bool(c.owner_locked), fields,
        c.assigned_on, c.status_on, c.last_activity, activities, c.contacts,
    )


def opportunity_from_row(row: tuple[Any, ...]) -> Opportunity:
    return Opportunity(
        row[0], row[1], row[2], json.loads(row[3]), bool(row[4]), row[5], row[6], row[7], row[8]
    )


def opportunity_row(o: Opportunity) -> tuple[Any, ...]:
    return (
        o.id, o.customer, o.status, json.dumps(o.probability), bool(o.override), o.owner,
        o.amount, o.expected_close, o.seq,
    )


_P = ParamSpec("_P")
_R = TypeVar("_R")


def pg_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """The server failing mid-run (gone, a full disk) raises `StateError`, which the
    CLI reports without a traceback."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except psycopg.Error as e:
            where = getattr(args[0], "where", "(postgresql)")
            raise StateError(f"state {where}: {str(e).strip()}") from e

    return wrapper
