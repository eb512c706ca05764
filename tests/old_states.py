"""The schemas of older SQLite state files, frozen as those versions wrote them: the
migration tests build such files and open them with today's store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# version 2: the matching index; customers without their facts, no history
V2_SCHEMA = """
CREATE TABLE IF NOT EXISTS {db}.customers (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT, territory TEXT,
    owner_locked INTEGER NOT NULL, fields TEXT NOT NULL) WITHOUT ROWID;
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
"""
# version 1: no matching tables either
V1_SCHEMA = V2_SCHEMA.split("CREATE TABLE IF NOT EXISTS {db}.match_records")[0]


def old_state(path: Path, version: int) -> sqlite3.Connection:
    """A new state file of schema ``version`` (1 or 2), open for the test to fill."""
    db = sqlite3.connect(path)
    db.executescript((V1_SCHEMA if version == 1 else V2_SCHEMA).format(db="main")
                     + f"PRAGMA user_version={version};")
    return db
