"""Customers' history and facts in every store (SPEC §18): one contract over every
kind of store of tests/test_state.py, and the migration of older state files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from old_states import old_state
from test_state import KINDS, POSTGRES_KINDS, make_factory

from sfa_rules.entities import Customer, HistoryEntry
from sfa_rules.state.sqlite import SQLiteStore
from sfa_rules.state.sqlite_parts import SCHEMA_VERSION
from sfa_rules.state.store import Store

FACTS: dict[str, Any] = {
    "assigned_on": "2026-03-02", "status_on": "2026-03-04", "last_activity": "2026-03-05",
    "activities": {"call": 2, "meeting": 1}, "contacts": 3,
}


@pytest.fixture(params=KINDS + POSTGRES_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with make_factory(request, request.param, tmp_path)() as s:
        yield s


def entry(customer: str, date: str | None, what: str = "activity", **detail: Any) -> HistoryEntry:
    return HistoryEntry(customer, date, what, detail, f"activities.csv:{len(detail) + 2}")


def lines(store: Store, customer: str) -> list[tuple[str | None, str, dict[str, Any]]]:
    return [(e.date, e.kind, dict(e.detail)) for e in store.history_of(customer)]


@pytest.mark.parametrize("when", ["before commit", "after commit"])
def test_history_comes_in_date_order_then_arrival(store: Store, when: str) -> None:
    store.add_history(entry("C-1", "2026-03-05", kind="call", n=1))
    store.add_history(entry("C-1", "2026-03-01", "assignment", owner="ana"))
    store.add_history(entry("C-2", "2026-03-02", n=9))
    store.add_history(entry("C-1", "2026-03-05", kind="meeting", n=2))
    store.add_history(entry("C-1", None, "status", to="LEAD-New"))
    if when == "after commit":
        store.commit()
    assert lines(store, "C-1") == [
        (None, "status", {"to": "LEAD-New"}),
        ("2026-03-01", "assignment", {"owner": "ana"}),
        ("2026-03-05", "activity", {"kind": "call", "n": 1}),
        ("2026-03-05", "activity", {"kind": "meeting", "n": 2}),
    ]
    seqs = [e.seq for e in store.history_of("C-1")]
    assert seqs[2] < seqs[3] and len(set(seqs)) == 4  # the store numbers them
    assert [e.source for e in store.history_of("C-2")] == ["activities.csv:3"]
    assert store.history_of("C-404") == []


def test_rollback_drops_the_history_since_the_last_commit(store: Store) -> None:
    store.add_history(entry("C-1", "2026-03-01", n=1))
    store.commit()
    store.add_history(entry("C-1", "2026-03-02", n=2))
    store.add_history(entry("C-1", "2026-03-03", n=3))
    store.rollback()
    store.add_history(entry("C-1", "2026-03-04", n=4))
    assert [e.detail["n"] for e in store.history_of("C-1")] == [1, 4]
    first, last = store.history_of("C-1")
    assert last.seq > first.seq


def test_the_facts_of_a_customer_are_kept(store: Store) -> None:
    with_facts = Customer("C-1", "LEAD-New", "ana", **FACTS)
    store.put_customer(with_facts)
    store.put_customer(Customer("C-2", "LEAD-New"))
    assert store.get_customer("C-1") == with_facts
    store.commit()
    assert store.get_customer("C-1") == with_facts
    assert store.get_customer("C-2") == Customer("C-2", "LEAD-New")


def test_customers_come_in_id_order_buffered_or_not(store: Store) -> None:
    before = {c.id: c for c in store.customers()}  # a state's own (BASE-1), if any
    store.put_customer(Customer("C-2", "LEAD-New", "bo"))
    store.put_customer(Customer("C-10", "LEAD-New", "ana", **FACTS))
    store.commit()
    store.put_customer(Customer("C-1", "LEAD-New"))
    store.put_customer(Customer("C-2", "LEAD-Contacted", "bo"))  # replaces the committed one
    expected = {**before, "C-1": Customer("C-1", "LEAD-New"),
                "C-10": Customer("C-10", "LEAD-New", "ana", **FACTS),
                "C-2": Customer("C-2", "LEAD-Contacted", "bo")}
    assert list(store.customers()) == [expected[id] for id in sorted(expected)]
    # by status (sfa due's candidates): a replaced customer is found by its new status only
    for statuses in ({"LEAD-New"}, {"LEAD-Contacted", "CUSTOMER-Won"}, set()):
        assert list(store.customers(statuses)) == [
            expected[id] for id in sorted(expected) if expected[id].status in statuses]


# -- what reaches the disk -------------------------------------------------------------


@pytest.mark.parametrize("commit", [False, True])
def test_history_and_facts_persist_only_when_committed(tmp_path: Path, commit: bool) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path, dry_run=False, buffer_size=2) as s:
        s.put_customer(Customer("C-1", "LEAD-New", "ana", **FACTS))
        for day in ("03", "01", "02"):
            s.add_history(entry("C-1", f"2026-03-{day}"))
        if commit:
            s.commit()
    with SQLiteStore(path, dry_run=True) as s:
        found = s.get_customer("C-1")
        assert (found == Customer("C-1", "LEAD-New", "ana", **FACTS)) is commit
        assert [e.date for e in s.history_of("C-1")] == (
            ["2026-03-01", "2026-03-02", "2026-03-03"] if commit else [])


def test_a_dry_run_writes_no_history(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path, dry_run=False) as s:
        s.add_history(entry("C-1", "2026-03-01"))
        s.commit()
    before = path.read_bytes()
    with SQLiteStore(path, dry_run=True) as s:
        s.add_history(entry("C-1", "2026-03-02"))
        s.commit()
        assert len(s.history_of("C-1")) == 2
    assert path.read_bytes() == before


# -- migration -----------------------------------------------------------------------


OLD_CUSTOMER = "INSERT INTO customers VALUES ('C-1', 'LEAD-New', 'ana', 'us-west', 0, '{}')"


@pytest.mark.parametrize("version", [1, 2])
def test_a_dry_run_reads_an_old_state_without_changing_it(tmp_path: Path, version: int) -> None:
    path = tmp_path / "state.db"
    db = old_state(path, version)
    db.execute(OLD_CUSTOMER)
    db.commit()
    db.close()
    before = path.read_bytes()
    with SQLiteStore(path, dry_run=True) as s:
        assert s.get_customer("C-1") == Customer("C-1", "LEAD-New", "ana", "us-west")
        assert s.history_of("C-1") == []
        s.add_history(entry("C-1", "2026-03-01"))
        s.put_customer(Customer("C-2", "LEAD-New"))
        s.commit()
        assert [e.seq for e in s.history_of("C-1")] == [1]
        assert [c.id for c in s.customers()] == ["C-1", "C-2"]
    assert path.read_bytes() == before


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("version", [1, 2])
def test_an_apply_migrates_an_old_state(tmp_path: Path, version: int, lazy: bool) -> None:
    path = tmp_path / "state.db"
    db = old_state(path, version)
    db.execute(OLD_CUSTOMER)
    db.commit()
    db.close()
    with SQLiteStore(path, dry_run=False, lazy=lazy) as s:
        assert s.get_customer("C-1") == Customer("C-1", "LEAD-New", "ana", "us-west")
        s.put_customer(Customer("C-2", "LEAD-New", "bo", **FACTS))
        s.add_history(entry("C-2", "2026-03-01"))
        s.commit()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    db.close()
    with SQLiteStore(path, dry_run=True) as s:
        assert [c.id for c in s.customers()] == ["C-1", "C-2"]
        assert s.get_customer("C-2") == Customer("C-2", "LEAD-New", "bo", **FACTS)
        assert len(s.history_of("C-2")) == 1


def _old_postgres_state(url: str) -> None:
    """A PostgreSQL state of schema version 1: customers without their facts, no
    history (today's state with what version 2 added taken away)."""
    import psycopg

    from sfa_rules.state.postgres import PostgresStore

    with PostgresStore(url, dry_run=False) as s:
        s.put_customer(Customer("C-1", "LEAD-New", "ana", "us-west"))
        s.commit()
    with psycopg.connect(url) as db:
        db.execute("DROP TABLE sfa.history")
        db.execute("ALTER TABLE sfa.customers DROP COLUMN assigned_on, DROP COLUMN status_on,"
                   " DROP COLUMN last_activity, DROP COLUMN activities, DROP COLUMN contacts")
        db.execute("UPDATE sfa.meta SET value = 1 WHERE key = 'schema_version'")


@pytest.mark.parametrize("mode", ["dry", "apply", "lazy"])
def test_a_version_1_postgres_state_is_read_and_migrated(postgres: Any, mode: str) -> None:
    pytest.importorskip("psycopg")
    from sfa_rules.state.postgres import PostgresStore

    url = postgres.new_database()
    _old_postgres_state(url)
    with PostgresStore(url, dry_run=mode == "dry", lazy=mode == "lazy") as s:
        assert s.get_customer("C-1") == Customer("C-1", "LEAD-New", "ana", "us-west")
        assert s.history_of("C-1") == []
        s.put_customer(Customer("C-2", "LEAD-New", "bo", **FACTS))
        s.add_history(entry("C-2", "2026-03-01"))
        assert [c.id for c in s.customers()] == ["C-1", "C-2"]
        assert s.recount_loads(["LEAD-New"]) == {"ana": 1, "bo": 1}
        s.commit()
    with PostgresStore(url, dry_run=True) as s:
        migrated = mode != "dry"
        assert (s.get_customer("C-2") is not None) is migrated
        assert len(s.history_of("C-2")) == int(migrated)
        assert [c.id for c in s.customers()] == (["C-1", "C-2"] if migrated else ["C-1"])


@pytest.mark.parametrize("detail", [
    {"id": "first-touch", "action": {"reassign": "next_in_territory"}},  # a follow-up's
    {"kind": "call", "id": None, "owner": "ana", "subject": "s", "outcome": None},
    {"kind": "call", "id": 7, "owner": "ana", "subject": "s", "outcome": None},  # not text
    {"kind": "call"},  # fewer keys than the kind's
    {},
])
def test_any_detail_reads_back_as_it_was_written(store: Store, detail: dict[str, Any]) -> None:
    kind = "follow_up" if "action" in detail else "activity"
    store.add_history(HistoryEntry("C-1", "2026-03-01", kind, detail, "follow-up:first-touch"))
    store.commit()
    (got,) = store.history_of("C-1")
    assert (got.kind, dict(got.detail), got.source) == (kind, detail, "follow-up:first-touch")
