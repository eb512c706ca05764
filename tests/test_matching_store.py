"""The matching index of both stores (SPEC §19): one contract, every kind of store
of tests/test_state.py, and the migration of version 1 state files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from old_states import old_state
from test_state import KINDS, POSTGRES_KINDS, make_factory

from sfa_rules.entities import Customer, MatchEntry, MatchRef
from sfa_rules.state import sqlite_matches
from sfa_rules.state.sqlite import SQLiteStore
from sfa_rules.state.sqlite_parts import SCHEMA_VERSION
from sfa_rules.state.store import Store

BASE_ENTRY = MatchEntry("B-1", {"email": "b@x.com"}, ("d:email:b@x.com",), "2026-01-01", None, 7)


@pytest.fixture(params=[1, sqlite_matches.BLOOM_AFTER], ids=["bloom-at-once", "bloom-later"])
def bloom_after(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """When the SQLite store builds its bitmap of match keys: at the first lookup, or
    (the default) after many, answering the first ones from SQLite alone."""
    monkeypatch.setattr(sqlite_matches, "BLOOM_AFTER", request.param)
    return int(request.param)


@pytest.fixture(params=KINDS + POSTGRES_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, bloom_after: int) -> Iterator[Store]:
    kind = request.param
    factory = make_factory(request, kind, tmp_path)
    if kind.startswith("sqlite") and kind not in ("sqlite-scratch", "sqlite-lazy"):
        with SQLiteStore(tmp_path / "state.db", dry_run=False) as seed:
            seed.put_match(BASE_ENTRY, None)
            seed.commit()
    with factory() as s:
        if s.get_match("B-1") is None:  # memory, scratch and lazy stores start empty
            s.put_match(BASE_ENTRY, None)
            s.commit()
        yield s


def ids(store: Store, key: str) -> list[str]:
    return [ref.id for ref in store.find_match(key)]


def entry(id: str, *keys: str, seq: int = 1) -> MatchEntry:
    return MatchEntry(id, {"company": id.lower()}, keys, None, "2026-05-01", seq)


@pytest.mark.parametrize("when", ["before commit", "after commit"])
def test_entries_read_back_and_are_found_by_each_key(store: Store, when: str) -> None:
    e = entry("C-1", "a:company:acme", "d:email:bob@acme.com")
    store.put_match(e, None)
    if when == "after commit":
        store.commit()
    assert store.get_match("C-1") == e
    assert ids(store, "a:company:acme") == ["C-1"]
    assert ids(store, "d:email:bob@acme.com") == ["C-1"]
    assert ids(store, "a:company:globex") == []
    assert store.get_match("C-404") is None


def test_an_entry_of_the_state_is_found(store: Store) -> None:
    assert store.get_match("B-1") == BASE_ENTRY
    assert store.find_match("d:email:b@x.com") == [MatchRef("B-1", 7, "2026-01-01", None)]


def test_a_new_put_replaces_the_keys(store: Store) -> None:
    old = store.get_match("B-1")
    new = MatchEntry("B-1", {"email": "c@x.com"}, ("d:email:c@x.com",), None, None, 7)
    store.put_match(new, old)
    assert ids(store, "d:email:b@x.com") == []
    assert ids(store, "d:email:c@x.com") == ["B-1"]
    dated = MatchEntry("B-1", new.values, new.keys, None, "2026-07-01", 7)
    store.put_match(dated, new)  # the same keys, a new date
    assert ids(store, "d:email:c@x.com") == ["B-1"]
    assert store.get_match("B-1") == dated


def test_many_records_share_a_key(store: Store) -> None:
    for i in range(5):
        store.put_match(entry(f"C-{i}", "a:company:acme", seq=i + 10), None)
    store.commit()
    store.put_match(entry("C-9", "a:company:acme"), None)
    assert ids(store, "a:company:acme") == ["C-0", "C-1", "C-2", "C-3", "C-4", "C-9"]


def test_rollback_drops_the_entries_since_the_last_commit(store: Store) -> None:
    store.put_match(entry("C-1", "a:company:acme"), None)
    store.commit()
    store.put_match(entry("C-2", "a:company:acme"), None)
    store.put_match(entry("C-1", "a:company:other"), store.get_match("C-1"))
    store.rollback()
    assert ids(store, "a:company:acme") == ["C-1"]
    assert ids(store, "a:company:other") == []
    assert store.get_match("C-2") is None


def test_sequence_numbers_come_after_the_state_s(store: Store) -> None:
    first = store.match_seq()
    assert first > BASE_ENTRY.seq
    assert store.match_seq() > first


# -- migration ---------------------------------------------------------------------


def _version_1_file(path: Path) -> None:
    """A state file of schema version 1: no matching tables."""
    db = old_state(path, 1)
    db.execute("INSERT INTO customers VALUES ('C-1', 'LEAD-New', 'ana', NULL, 0, '{}')")
    db.commit()
    db.close()


def test_a_dry_run_reads_a_version_1_state_without_changing_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _version_1_file(path)
    before = path.read_bytes()
    with SQLiteStore(path, dry_run=True) as s:
        assert s.get_customer("C-1") == Customer("C-1", "LEAD-New", "ana")
        assert s.get_match("C-1") is None and ids(s, "a:company:acme") == []
        s.put_match(entry("C-2", "a:company:acme"), None)
        assert ids(s, "a:company:acme") == ["C-2"]
        s.commit()
    assert path.read_bytes() == before


@pytest.mark.parametrize("lazy", [False, True])
def test_an_apply_migrates_a_version_1_state(tmp_path: Path, lazy: bool) -> None:
    path = tmp_path / "state.db"
    _version_1_file(path)
    with SQLiteStore(path, dry_run=False, lazy=lazy) as s:
        s.put_match(entry("C-1", "a:company:acme"), None)
        s.commit()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert db.execute("SELECT id FROM match_keys WHERE key = 'a:company:acme'").fetchall() == [
        ("C-1",)]
    db.close()
    with SQLiteStore(path, dry_run=True) as s:
        assert s.get_customer("C-1") == Customer("C-1", "LEAD-New", "ana")
        assert ids(s, "a:company:acme") == ["C-1"]
