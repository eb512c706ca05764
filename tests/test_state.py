"""The state store contract (SPEC §9), run against every store, plus the SQLite file's
own promises: persistence, dry runs that write nothing, clear errors, bounded memory."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfa_rules.entities import Customer, HistoryEntry, Opportunity
from sfa_rules.state import (
    MemoryStore,
    SQLiteStore,
    StateError,
    Store,
    decode_decisions,
    encode_decisions,
    open_state,
)
from sfa_rules.state.sqlite_parts import SCHEMA, SCHEMA_VERSION

try:
    from sfa_rules.state.postgres import PostgresStore
except ImportError:  # psycopg not installed: the postgres kinds skip (start_server)
    PostgresStore = None  # type: ignore[assignment,misc]

StoreFactory = Callable[[], Store]


def _seed_base(path: Path | str) -> None:
    """A state holding unrelated records, so that dry runs read through two layers."""
    with open_state(path, dry_run=False) as s:
        s.put_customer(Customer("BASE-1", "LEAD-New", "zed"))
        s.put_opportunity(Opportunity("BASE-O1", "BASE-1", "PROSPECT-Proposal", 50))
        s.mark_seen("invoice", "BASE-I1")
        s.commit()


def _rowid_file(path: Path) -> None:
    """A state file whose customers and opportunities are rowid tables, as files made
    before they became WITHOUT ROWID (same columns, same schema version)."""
    old = SCHEMA
    for table_end in ("contacts INTEGER NOT NULL DEFAULT 0)", "seq INTEGER NOT NULL)"):
        assert table_end + " WITHOUT ROWID" in old
        old = old.replace(table_end + " WITHOUT ROWID", table_end)
    db = sqlite3.connect(path)
    db.executescript(old.format(db="main") + f"PRAGMA user_version={SCHEMA_VERSION};")
    db.close()


def _postgres_factory(kind: str, url: str) -> StoreFactory:
    """The PostgreSQL store in the same roles as the SQLite kinds (SPEC §21)."""
    if kind.endswith("over-state"):
        _seed_base(url)
    lazy = "lazy" in kind
    dry = "dry" in kind
    buffer_size = 2 if kind != "postgres" else 10_000
    return lambda: PostgresStore(url, dry_run=dry, lazy=lazy, buffer_size=buffer_size)


def _factory(kind: str, tmp_path: Path) -> StoreFactory:
    path = tmp_path / "state.db"
    if kind == "memory":
        return MemoryStore
    if kind == "sqlite":
        return lambda: SQLiteStore(path, dry_run=False)
    if kind == "sqlite-tiny-buffer":  # every few writes spill into the open transaction
        return lambda: SQLiteStore(path, dry_run=False, buffer_size=2)
    if kind == "sqlite-scratch":
        return lambda: SQLiteStore(None, dry_run=True, buffer_size=2)
    if kind == "sqlite-lazy":  # an overlay over no file until the first commit
        return lambda: SQLiteStore(path, dry_run=False, lazy=True, buffer_size=2)
    if kind.endswith("rowid-file"):  # a file made before customers went WITHOUT ROWID
        _rowid_file(path)
        _seed_base(path)
        return lambda: SQLiteStore(path, dry_run=kind.startswith("sqlite-dry"), buffer_size=2)
    _seed_base(path)
    if kind == "sqlite-lazy-over-state":  # the first commit copies the overlay in
        return lambda: SQLiteStore(path, dry_run=False, lazy=True, buffer_size=2)
    assert kind == "sqlite-dry-over-state"
    return lambda: SQLiteStore(path, dry_run=True, buffer_size=2)


KINDS = [
    "memory",
    "sqlite",
    "sqlite-tiny-buffer",
    "sqlite-scratch",
    "sqlite-dry-over-state",
    "sqlite-lazy",
    "sqlite-lazy-over-state",
    "sqlite-over-rowid-file",
    "sqlite-dry-over-rowid-file",
]
# The same contract on a PostgreSQL server the tests start (tests/pgserver.py)
POSTGRES_KINDS = [
    "postgres",
    "postgres-tiny-buffer",
    "postgres-dry",
    "postgres-dry-over-state",
    "postgres-lazy",
    "postgres-lazy-over-state",
]


def make_factory(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> StoreFactory:
    if kind.startswith("postgres"):
        return _postgres_factory(kind, request.getfixturevalue("postgres").new_database())
    return _factory(kind, tmp_path)


@pytest.fixture(params=KINDS + POSTGRES_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with make_factory(request, request.param, tmp_path)() as s:
        yield s


def opp(id: str, customer: str | None, status: str = "PROSPECT-Proposal", **kw: Any) -> Opportunity:
    return Opportunity(id, customer, status, kw.pop("probability", 50), **kw)


# the contract, on every store


def test_unknown_ids_read_as_absent(store: Store) -> None:
    assert store.get_customer("C-404") is None
    assert store.get_opportunity("O-404") is None
    assert store.opportunities_of("C-404") == []
    assert not store.seen("invoice", "I-404")
    assert store.get_rotation("nowhere") is None
    assert store.open_count("nobody") == 0


@pytest.mark.parametrize("when", ["before commit", "after commit"])
def test_records_read_back_as_written(store: Store, when: str) -> None:
    c = Customer("C-1", "LEAD-New", "ana", "us-west", True, {"zip": "01234", "n": 3})
    o = opp(
        "O-1",
        "C-1",
        probability=37.5,
        override=True,
        owner="luis",
        amount="10.00",
        expected_close="2027-01-31",
        seq=4,
    )
    store.put_customer(c)
    store.put_opportunity(o)
    store.mark_seen("invoice", "I-1")
    if when == "after commit":
        store.commit()
    assert store.get_customer("C-1") == c
    assert store.get_opportunity("O-1") == o
    assert store.opportunities_of("C-1") == [o]
    assert store.seen("invoice", "I-1")
    assert not store.seen("estimate", "I-1")  # a transaction is identified by type and id


def test_integer_and_float_probabilities_keep_their_type(store: Store) -> None:
    store.put_opportunity(opp("O-int", None, probability=50))
    store.put_opportunity(opp("O-float", None, probability=50.0))
    store.commit()
    assert type(store.get_opportunity("O-int").probability) is int  # type: ignore[union-attr]
    assert type(store.get_opportunity("O-float").probability) is float  # type: ignore[union-attr]


def test_a_later_put_replaces_the_record(store: Store) -> None:
    store.put_customer(Customer("C-1", "LEAD-New", "ana"))
    store.commit()
    store.put_customer(Customer("C-1", "PROSPECT-Proposal", "ana"))
    assert store.get_customer("C-1").status == "PROSPECT-Proposal"  # type: ignore[union-attr]
    store.commit()
    assert store.get_customer("C-1").status == "PROSPECT-Proposal"  # type: ignore[union-attr]


def test_opportunities_of_follows_moves_between_customers(store: Store) -> None:
    store.put_opportunity(opp("O-2", "C-1"))
    store.put_opportunity(opp("O-1", "C-1"))
    store.put_opportunity(opp("O-3", "C-2"))
    store.commit()
    store.put_opportunity(opp("O-2", "C-2", "PROSPECT-In Negotiation"))  # moved, buffered
    assert [o.id for o in store.opportunities_of("C-1")] == ["O-1"]
    assert [(o.id, o.status) for o in store.opportunities_of("C-2")] == [
        ("O-2", "PROSPECT-In Negotiation"),
        ("O-3", "PROSPECT-Proposal"),
    ]
    store.commit()
    assert [o.id for o in store.opportunities_of("C-1")] == ["O-1"]
    assert [o.id for o in store.opportunities_of("C-2")] == ["O-2", "O-3"]


def test_all_opportunities_lists_each_once_by_id(store: Store) -> None:
    store.put_opportunity(opp("O-b", "C-1"))
    store.put_opportunity(opp("O-a", None))
    store.commit()
    store.put_opportunity(opp("O-b", "C-1", "PROSPECT-Purchasing"))
    store.put_opportunity(opp("O-c", "C-2"))
    got = [(o.id, o.status) for o in store.all_opportunities() if not o.id.startswith("BASE")]
    assert got == [
        ("O-a", "PROSPECT-Proposal"),
        ("O-b", "PROSPECT-Purchasing"),
        ("O-c", "PROSPECT-Proposal"),
    ]


def test_rotations_are_copied_in(store: Store) -> None:
    given_ = {"last": "ana", "weights": {"ana": 2}}
    store.set_rotation("us-west", given_)
    given_["last"] = "mutated by the caller"
    given_["weights"]["ana"] = 3
    assert store.get_rotation("us-west") == {"last": "ana", "weights": {"ana": 2}}
    store.commit()
    assert store.get_rotation("us-west") == {"last": "ana", "weights": {"ana": 2}}


def test_rotations_come_back_as_json_values(store: Store) -> None:
    store.set_rotation("t", {"order": ("ana", "bo"), "weights": {"ana": 2.5}, "sig": None})
    expected = {"order": ["ana", "bo"], "weights": {"ana": 2.5}, "sig": None}
    assert store.get_rotation("t") == expected
    store.commit()
    assert store.rotations() == {"t": expected}


def test_reset_rotation_forgets_it(store: Store) -> None:
    store.set_rotation("us-west", {"last": "ana"})
    store.set_rotation("emea", {"last": "bo"})
    store.commit()
    store.reset_rotation("us-west")
    assert store.get_rotation("us-west") is None
    assert store.rotations() == {"emea": {"last": "bo"}}
    store.commit()
    assert store.rotations() == {"emea": {"last": "bo"}}


def test_loads_add_up_and_match_a_recount(store: Store) -> None:
    open_statuses = {"LEAD-New", "PROSPECT-Proposal"}
    for i, (owner, status) in enumerate(
        [
            ("ana", "LEAD-New"),
            ("ana", "PROSPECT-Proposal"),
            ("bo", "LEAD-New"),
            ("bo", "CUSTOMER-Closed Won"),
            (None, "LEAD-New"),
        ]
    ):
        store.put_customer(Customer(f"C-{i}", status, owner))
        if owner is not None and status in open_statuses:
            store.add_open(owner, 1)
    store.commit()
    store.add_open("bo", -1)  # bo's lead closed
    store.put_customer(Customer("C-2", "LEAD-Dead", "bo"))
    expected = {"ana": 2, "bo": 0}
    assert {r: n for r, n in store.loads().items() if r != "zed"} == expected
    assert store.open_count("ana") == 2
    recount = store.recount_loads(open_statuses)
    assert {r: n for r, n in recount.items() if r != "zed"} == {"ana": 2}


def test_recount_with_fix_repairs_drifted_loads(store: Store) -> None:
    store.put_customer(Customer("C-1", "LEAD-New", "ana"))
    store.add_open("ana", 5)  # drifted
    store.add_open("ghost", 2)  # owns nothing
    store.recount_loads({"LEAD-New"}, fix=True)
    store.commit()
    assert store.open_count("ana") == 1
    assert store.open_count("ghost") == 0


def test_rollback_drops_everything_since_the_last_commit(store: Store) -> None:
    store.put_customer(Customer("C-1", "LEAD-New", "ana"))
    store.put_opportunity(opp("O-1", "C-1"))
    store.set_rotation("t", {"n": 1})
    store.add_open("ana", 1)
    store.commit()
    before = _snapshot(store)
    store.put_customer(Customer("C-1", "PROSPECT-Proposal", "bo"))
    store.put_customer(Customer("C-2", "LEAD-New", "bo"))
    store.put_opportunity(opp("O-1", "C-2"))
    store.put_opportunity(opp("O-2", "C-1"))
    store.mark_seen("invoice", "I-9")
    store.set_rotation("t", {"n": 2})
    store.reset_rotation("t")
    store.add_open("bo", 3)
    store.rollback()
    assert _snapshot(store) == before
    assert store.get_customer("C-2") is None
    assert not store.seen("invoice", "I-9")


def test_resume_journal_replays_committed_batches_in_order(store: Store) -> None:
    assert store.resume_point("run-1")[0] == 0
    assert list(store.resume_point("run-1")[1]) == []
    store.commit_batch("run-1", 2, encode_decisions([{"row": 1}, {"row": 2, "owner": "ana"}]))
    store.commit_batch("run-1", 3, encode_decisions([{"row": 3, "owner": "Ñuño"}]))
    store.commit_batch("run-2", 1, encode_decisions([{"row": 1, "other": True}]))
    rows_done, decisions = store.resume_point("run-1")
    assert rows_done == 3
    assert list(decisions) == [{"row": 1}, {"row": 2, "owner": "ana"}, {"row": 3, "owner": "Ñuño"}]
    store.finish_run("run-1")
    assert store.resume_point("run-1")[0] == 0
    assert list(store.resume_point("run-1")[1]) == []
    assert store.resume_point("run-2")[0] == 1


def test_commit_batch_commits_the_batch_effects(store: Store) -> None:
    store.put_customer(Customer("C-1", "LEAD-New", "ana"))
    store.set_rotation("t", {"n": 1})
    store.commit_batch("run", 1, encode_decisions([{"row": 1}]))
    store.put_customer(Customer("C-2", "LEAD-New", "ana"))
    store.rollback()
    assert store.get_customer("C-1") is not None
    assert store.get_customer("C-2") is None
    assert store.get_rotation("t") == {"n": 1}
    assert store.resume_point("run")[0] == 1


@pytest.mark.parametrize(
    "decisions",
    [[], [{}], [{"row": 1, "warnings": ["a\nb"], "error": None, "p": 37.5}], [{"x": "é"}] * 3],
)
def test_decisions_blob_round_trips(decisions: list[dict[str, Any]]) -> None:
    assert list(decode_decisions(encode_decisions(decisions))) == decisions


def _snapshot(store: Store) -> dict[str, Any]:
    ids = [f"C-{i}" for i in range(4)] + ["BASE-1"]
    return {
        "customers": {i: store.get_customer(i) for i in ids},
        "opportunities": list(store.all_opportunities()),
        "of": {i: store.opportunities_of(i) for i in ids},
        "seen": [store.seen("invoice", f"I-{i}") for i in range(10)],
        "rotations": store.rotations(),
        "loads": store.loads(),
    }


# both stores behave identically: random operation sequences, compared read by read

_ids = st.sampled_from(["A", "B", "C", "D"])
_maybe_id = st.one_of(st.none(), _ids)
_put_customer = st.tuples(
    st.just("put_customer"), _ids, st.sampled_from(["LEAD-New", "LEAD-Dead"]), _maybe_id
)
# few opportunity ids, so that puts often replace or move an earlier one
_put_opportunity = st.tuples(
    st.just("put_opportunity"), st.sampled_from(["A", "B"]), _maybe_id, st.integers(0, 100)
)
_op = st.one_of(  # puts weigh most: replacing and moving records is where stores differ
    _put_customer,
    _put_customer,
    _put_opportunity,
    _put_opportunity,
    _put_opportunity,
    st.tuples(st.just("mark_seen"), st.sampled_from(["invoice", "estimate"]), _ids),
    st.tuples(st.just("set_rotation"), _ids, st.integers(0, 9)),
    st.tuples(st.just("reset_rotation"), _ids),
    st.tuples(st.just("add_open"), _ids, st.integers(-2, 3)),
    st.tuples(st.just("commit_batch"), st.sampled_from(["k1", "k2"]), st.integers(1, 50)),
    st.tuples(st.just("finish_run"), st.sampled_from(["k1", "k2"])),
    # SPEC §18: history lines (a date among few, so that ties order by arrival), facts
    st.tuples(st.just("add_history"), _ids, st.sampled_from([None, "2026-03-01", "2026-03-02"]),
              st.sampled_from(["call", "meeting"])),
    st.tuples(st.just("put_facts"), _ids, st.sampled_from([None, "2026-03-05"]),
              st.integers(0, 3)),
    st.just(("commit",)),
    st.just(("rollback",)),
)


def _apply(store: Store, op: tuple[Any, ...]) -> None:
    name, *args = op
    if name == "put_customer":
        store.put_customer(Customer(args[0], args[1], args[2]))
    elif name == "put_opportunity":
        store.put_opportunity(Opportunity(args[0], args[1], "S", args[2], seq=args[2]))
    elif name == "set_rotation":
        store.set_rotation(args[0], {"next": args[1]})
    elif name == "commit_batch":
        store.commit_batch(args[0], args[1], encode_decisions([{"n": args[1]}]))
    elif name == "add_history":
        store.add_history(HistoryEntry(args[0], args[1], "activity", {"kind": args[2]}, "f:1"))
    elif name == "put_facts":
        store.put_customer(Customer(args[0], "LEAD-New", "ana", assigned_on=args[1],
                                    last_activity=args[1], activities={"call": args[2]},
                                    contacts=args[2]))
    else:
        getattr(store, name)(*args)


def _observe(store: Store) -> dict[str, Any]:
    ids = ["A", "B", "C", "D"]
    return {
        "customers": [store.get_customer(i) for i in ids],
        "opportunities": [store.get_opportunity(i) for i in ids],
        "of": [store.opportunities_of(i) for i in ids],
        "all": list(store.all_opportunities()),
        "seen": [store.seen(t, i) for t in ("invoice", "estimate") for i in ids],
        "rotations": store.rotations(),
        "loads": store.loads(),
        "recount": store.recount_loads({"LEAD-New"}),
        "journal": [
            (k, store.resume_point(k)[0], list(store.resume_point(k)[1])) for k in ("k1", "k2")
        ],
        "history": [store.history_of(i) for i in ids],
        "every_customer": list(store.customers()),
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(_op, min_size=5, max_size=30), mode=st.sampled_from(["apply", "lazy", "dry"]))
def test_sqlite_store_behaves_like_memory_store(
    tmp_path: Path, ops: list[tuple[Any, ...]], mode: str
) -> None:
    path = tmp_path / f"prop-{os.urandom(4).hex()}.db"
    memory = MemoryStore()
    dry = mode == "dry"
    with SQLiteStore(
        path if not dry else None, dry_run=dry, lazy=mode == "lazy", buffer_size=2
    ) as sqlite:
        _run_side_by_side(memory, sqlite, ops)
        if not dry:
            sqlite.commit()
            memory.commit()
    if not dry:  # what was committed is what a reopened file holds
        with SQLiteStore(path, dry_run=True) as reopened:
            assert _observe(reopened) == _observe(memory)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    applied=st.lists(_op, min_size=5, max_size=25),
    dry=st.lists(_op, min_size=5, max_size=25),
    lazy=st.booleans(),
)
def test_a_dry_run_over_a_state_behaves_like_memory_store(
    tmp_path: Path, applied: list[tuple[Any, ...]], dry: list[tuple[Any, ...]], lazy: bool
) -> None:
    # the overlay must shadow the state exactly: replaced, moved and reset records;
    # a lazy apply's first commit must then write exactly what the overlay showed
    path = tmp_path / f"prop-{os.urandom(4).hex()}.db"
    memory = MemoryStore()
    with SQLiteStore(path, dry_run=False, buffer_size=2) as sqlite:
        _run_side_by_side(memory, sqlite, applied)
        sqlite.commit()
        memory.commit()
    digest = _digest(path)
    with SQLiteStore(path, dry_run=not lazy, lazy=lazy, buffer_size=2) as overlay:
        assert _observe(overlay) == _observe(memory)
        _run_side_by_side(memory, overlay, dry)
        if lazy:
            overlay.commit()
            memory.commit()
    if not lazy:
        assert _digest(path) == digest
        return
    with SQLiteStore(path, dry_run=True) as reopened:
        assert _observe(reopened) == _observe(memory)


def _run_side_by_side(memory: Store, sqlite: Store, ops: list[tuple[Any, ...]]) -> None:
    for op in ops:
        _apply(memory, op)
        _apply(sqlite, op)
        assert _observe(sqlite) == _observe(memory), op


# the SQLite file


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_apply_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path, dry_run=False) as s:
        s.put_customer(Customer("C-1", "LEAD-New", "ana", fields={"zip": "01234"}))
        s.put_opportunity(opp("O-1", "C-1"))
        s.mark_seen("invoice", "I-1")
        s.set_rotation("us-west", {"last": "ana"})
        s.add_open("ana", 1)
        s.commit()
        s.put_customer(Customer("C-2", "LEAD-New", "ana"))  # never committed
    with SQLiteStore(path, dry_run=False) as s:
        assert s.get_customer("C-1") == Customer("C-1", "LEAD-New", "ana", fields={"zip": "01234"})
        assert s.get_customer("C-2") is None
        assert s.opportunities_of("C-1") == [opp("O-1", "C-1")]
        assert s.seen("invoice", "I-1")
        assert s.rotations() == {"us-west": {"last": "ana"}}
        assert s.loads() == {"ana": 1}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # at rest
    db.close()


@pytest.mark.parametrize("commit", [False, True])
def test_dry_run_leaves_the_state_file_byte_identical(tmp_path: Path, commit: bool) -> None:
    path = tmp_path / "state.db"
    _seed_base(path)
    files, digest = sorted(os.listdir(tmp_path)), _digest(path)
    with SQLiteStore(path, dry_run=True, buffer_size=3) as s:
        for i in range(20):
            s.put_customer(Customer(f"C-{i}", "LEAD-New", "ana"))
            s.put_opportunity(opp(f"O-{i}", f"C-{i}"))
            s.mark_seen("invoice", f"I-{i}")
            s.add_open("ana", 1)
            s.set_rotation("us-west", {"n": i})
        s.put_customer(Customer("BASE-1", "LEAD-Dead", "zed"))
        s.reset_rotation("nowhere")
        s.commit_batch("run", 20, encode_decisions([{"row": 20}]))
        if commit:
            s.commit()
        assert s.get_customer("BASE-1").status == "LEAD-Dead"  # type: ignore[union-attr]
        assert s.get_customer("C-19") is not None
    assert _digest(path) == digest
    assert sorted(os.listdir(tmp_path)) == files
    with SQLiteStore(path, dry_run=True) as s:
        assert s.get_customer("C-0") is None
        assert s.get_customer("BASE-1").status == "LEAD-New"  # type: ignore[union-attr]


def test_dry_run_changes_shadow_the_state_records(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _seed_base(path)  # BASE-1 (zed, open) with BASE-O1
    with SQLiteStore(path, dry_run=True) as s:
        s.put_opportunity(opp("BASE-O1", "C-2", "PROSPECT-Purchasing"))  # moved away
        s.put_customer(Customer("BASE-1", "LEAD-New", "ana"))  # new owner
        s.commit()  # out of the buffer, into the overlay
        assert s.opportunities_of("BASE-1") == []
        assert [o.customer for o in s.opportunities_of("C-2")] == ["C-2"]
        assert [(o.id, o.customer) for o in s.all_opportunities()] == [("BASE-O1", "C-2")]
        assert s.get_customer("BASE-1").owner == "ana"  # type: ignore[union-attr]
        assert s.recount_loads({"LEAD-New"}) == {"ana": 1}


def test_dry_run_of_a_missing_state_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing-yet.db"
    with SQLiteStore(path, dry_run=True) as s:
        s.put_customer(Customer("C-1", "LEAD-New"))
        s.commit()
        assert s.get_customer("C-1") is not None
    assert os.listdir(tmp_path) == []


def test_dry_run_started_during_an_apply_sees_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _seed_base(path)
    with SQLiteStore(path, dry_run=False) as writer:  # the file is in WAL mode while open
        with SQLiteStore(path, dry_run=True) as reader:
            writer.put_customer(Customer("LATE", "LEAD-New"))
            writer.commit()  # not blocked by the reader
            assert reader.get_customer("BASE-1") is not None
            assert reader.get_customer("LATE") is None
        assert writer.get_customer("LATE") is not None


def test_apply_waits_for_a_dry_run_reading_the_file_then_fails_clearly(tmp_path: Path) -> None:
    # at rest the file is in rollback-journal mode, where a reader's snapshot excludes
    # writers: the apply waits up to its timeout
    path = tmp_path / "state.db"
    _seed_base(path)
    busy = pytest.raises(StateError, match=r"in use by another process .*; waited 0.2 s")
    with SQLiteStore(path, dry_run=True), busy:
        SQLiteStore(path, dry_run=False, lock_timeout=0.2)
    with SQLiteStore(path, dry_run=False, lock_timeout=0.2) as s:  # free again
        assert s.get_customer("BASE-1") is not None


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(
    "content, message",
    [
        (b"name,id\nana,1\n" * 200, "not an sfa state file"),
        (bytes(range(256)) * 40, "not an sfa state file"),
        (b"SQLite format 3\x00" + bytes(range(256)) * 40, "not an sfa state file"),
    ],
    ids=["csv", "binary", "sqlite-header-then-garbage"],
)
def test_a_file_that_is_not_a_state_is_a_state_error(
    tmp_path: Path, dry_run: bool, content: bytes, message: str
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    with pytest.raises(StateError, match=message):
        SQLiteStore(path, dry_run=dry_run)
    assert path.read_bytes() == content
    if not content.startswith(b"SQLite"):  # refused before a lock file is made
        assert os.listdir(tmp_path) == ["leads.csv"]


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_sqlite_database_of_something_else_is_a_state_error(
    tmp_path: Path, dry_run: bool
) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="an SQLite database but not an sfa state file"):
        SQLiteStore(path, dry_run=dry_run)


def test_a_newer_schema_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _seed_base(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError, match="schema version 99, newer"):
        SQLiteStore(path, dry_run=True)


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_a_path_that_cannot_hold_a_state_is_a_state_error(
    tmp_path: Path, dry_run: bool, where: str
) -> None:
    path = tmp_path / "no" / "such" / "state.db" if where == "missing folder" else tmp_path
    if dry_run and where == "missing folder":
        pytest.skip("a dry run of a missing state reads an empty one")
    with pytest.raises(StateError, match="state"):
        SQLiteStore(path, dry_run=dry_run)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_state_cannot_be_applied_to(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _seed_base(path)
    path.chmod(0o444)
    with pytest.raises(StateError, match="cannot write state"):
        SQLiteStore(path, dry_run=False)
    with SQLiteStore(path, dry_run=True) as s:  # reading is fine
        assert s.get_customer("BASE-1") is not None


def test_a_run_finished_in_a_dry_run_hides_its_journal_in_the_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path, dry_run=False) as s:
        s.commit_batch("run", 1, encode_decisions([{"row": 1, "from": "state"}]))
    with SQLiteStore(path, dry_run=True) as s:
        assert s.resume_point("run")[0] == 1
        s.commit_batch("run", 1, encode_decisions([{"row": 1, "from": "overlay"}]))
        s.commit_batch("run", 2, encode_decisions([{"row": 2, "from": "overlay"}]))
        rows_done, decisions = s.resume_point("run")
        assert (rows_done, [d["from"] for d in decisions]) == (2, ["overlay", "overlay"])
        s.finish_run("run")
        assert s.resume_point("run")[0] == 0
        s.commit_batch("run", 1, encode_decisions([{"row": 1, "from": "again"}]))
        assert [d["from"] for d in s.resume_point("run")[1]] == ["again"]
    with SQLiteStore(path, dry_run=True) as s:
        assert [d["from"] for d in s.resume_point("run")[1]] == ["state"]


def test_a_state_damaged_during_a_run_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path, dry_run=False) as s:  # larger than SQLite's 2 MB page cache
        for i in range(30_000):
            s.put_customer(Customer(f"C-{i}", "LEAD-New", "ana", fields={"note": "x" * 100}))
        s.commit()
    noise = random.Random(1)
    with SQLiteStore(path, dry_run=True) as s:
        damaged = bytearray(path.read_bytes())
        for page in range(2 * 4096, len(damaged), 4096):
            damaged[page + 100 : page + 300] = noise.randbytes(200)
        path.write_bytes(damaged)
        with pytest.raises(StateError, match="malformed"):
            for i in range(30_000):
                s.get_customer(f"C-{i}")


def test_apply_needs_a_path() -> None:
    with pytest.raises(ValueError, match="needs a state path"):
        SQLiteStore(None, dry_run=False)


def test_a_second_apply_waits_then_fails_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path, dry_run=False), pytest.raises(StateError) as caught:
        SQLiteStore(path, dry_run=False, lock_timeout=0.3)
    assert str(caught.value) == (
        f"state {path} is in use by another run (pid {os.getpid()}); waited 0.3 s"
    )
    with SQLiteStore(path, dry_run=False, lock_timeout=0.3):  # released on close
        pass


# lazy applies: a dry run until the first commit, an apply from there on


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare two state files exactly."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in sorted(tables)}
    finally:
        db.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _lazy(path: Path, **kw: Any) -> SQLiteStore:
    return SQLiteStore(path, dry_run=False, lazy=True, **kw)


@pytest.mark.parametrize("given_state", [False, True], ids=["missing", "state"])
def test_a_lazy_apply_left_without_commit_leaves_the_disk_as_it_was(
    tmp_path: Path, given_state: bool
) -> None:
    path = tmp_path / "state.db"
    if given_state:
        _seed_base(path)
    before = _files(tmp_path)
    with _lazy(path, buffer_size=3) as s:
        for i in range(20):
            s.put_customer(Customer(f"C-{i}", "LEAD-New", "ana"))
            s.put_opportunity(opp(f"O-{i}", f"C-{i}"))
            s.mark_seen("invoice", f"I-{i}")
            s.add_open("ana", 1)
            s.set_rotation("us-west", {"n": i})
        s.put_customer(Customer("BASE-1", "LEAD-Dead", "zed"))
        s.rollback()
        s.put_customer(Customer("C-x", "LEAD-New", "ana"))
        assert s.get_customer("C-x") is not None
        assert (s.get_customer("BASE-1") is not None) == given_state
    assert _files(tmp_path) == before  # byte-identical, no lock file, no journal


def test_a_lazy_apply_takes_the_run_lock_at_its_first_commit(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with _lazy(path) as s:
        s.put_customer(Customer("C-1", "LEAD-New", "ana"))
        assert os.listdir(tmp_path) == []
        s.commit()
        with pytest.raises(StateError, match=f"in use by another run \\(pid {os.getpid()}\\)"):
            SQLiteStore(path, dry_run=False, lock_timeout=0.2)
        s.put_customer(Customer("C-2", "LEAD-New", "ana"))  # later commits go straight in
        s.commit()
    with SQLiteStore(path, dry_run=False, lock_timeout=0.2) as s:  # released on close
        assert s.get_customer("C-1") is not None and s.get_customer("C-2") is not None


def _apply_one(path: Path, id: str) -> None:
    with SQLiteStore(path, dry_run=False) as s:
        s.put_customer(Customer(id, "LEAD-New", "bo"))
        s.add_open("bo", 1)
        s.commit()


_CHANGED = r"changed since this session started \(another run applied to it\); nothing was written"


@pytest.mark.parametrize("how", ["created", "replaced", "applied-to"])
def test_a_lazy_apply_whose_state_changed_fails_and_writes_nothing(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "state.db"
    if how != "created":
        _seed_base(path)
    holder = SQLiteStore(path, dry_run=False) if how == "applied-to" else None  # WAL mode
    lazy = _lazy(path)
    lazy.put_customer(Customer("MINE", "LEAD-New", "ana"))
    lazy.add_open("ana", 1)
    lazy.set_rotation("t", {"n": 1})
    if holder is not None:  # a run already open commits after the lazy store read
        holder.put_customer(Customer("THEIRS", "LEAD-New", "bo"))
        holder.commit()
        holder.close()
    elif how == "created":
        _apply_one(path, "THEIRS")
    else:
        other = tmp_path / "other.db"
        _apply_one(other, "THEIRS")
        os.replace(other, path)
    after = _rows(path)
    with pytest.raises(StateError, match=_CHANGED):
        lazy.commit()
    lazy.close()
    assert _rows(path) == after
    with _lazy(path) as again:  # run again: now it applies
        assert again.get_customer("THEIRS") is not None
        again.put_customer(Customer("MINE", "LEAD-New", "ana"))
        again.commit()
    assert {r[0] for r in _rows(path)["customers"]} >= {"MINE", "THEIRS"}


def test_a_lazy_apply_over_an_unchanged_open_state_promotes(tmp_path: Path) -> None:
    # an apply open (WAL mode) before the lazy store read, closed without committing:
    # the state is unchanged, so the promotion goes ahead
    path = tmp_path / "state.db"
    _seed_base(path)
    holder = SQLiteStore(path, dry_run=False)
    with _lazy(path, lock_timeout=0.2) as lazy:
        lazy.put_customer(Customer("MINE", "LEAD-New", "ana"))
        with pytest.raises(StateError, match="in use by another run"):
            lazy.commit()  # the lock not obtained in time: still lazy, still usable
        assert lazy.get_customer("MINE") is not None
        holder.close()
        lazy.commit()
    assert {r[0] for r in _rows(path)["customers"]} == {"BASE-1", "MINE"}


def test_a_lazy_apply_cannot_promote_while_another_session_reads_the_state(
    tmp_path: Path,
) -> None:
    # at rest the file is in rollback-journal mode, where a reader's snapshot excludes
    # writers (as for a plain apply): the promotion waits, then fails and writes nothing
    path = tmp_path / "state.db"
    _seed_base(path)
    reader = _lazy(path)
    with _lazy(path, lock_timeout=0.2) as first:
        first.put_customer(Customer("FIRST", "LEAD-New", "ana"))
        with pytest.raises(StateError, match=r"in use by another process .*; waited 0.2 s"):
            first.commit()
    reader.put_customer(Customer("READER", "LEAD-New", "ana"))
    reader.commit()  # nothing changed: the other wrote nothing
    reader.close()
    assert {r[0] for r in _rows(path)["customers"]} == {"BASE-1", "READER"}


def _big_run(store: Store, n: int) -> None:
    for i in range(n):
        store.put_customer(Customer(f"C-{i:06d}", "LEAD-New", f"rep-{i % 7}", fields={"i": i}))
        store.put_opportunity(opp(f"O-{i:06d}", f"C-{i:06d}", seq=i))
        store.mark_seen("invoice", f"I-{i:06d}")
        store.add_open(f"rep-{i % 7}", 1)
        store.set_rotation(f"t-{i % 5}", {"next": i})
    store.put_customer(Customer("BASE-1", "LEAD-Dead", "zed"))  # the state's own rows
    store.put_opportunity(opp("BASE-O1", "C-000001", "PROSPECT-Purchasing"))
    store.reset_rotation("t-0")
    store.commit_batch("run", n, encode_decisions([{"row": n}]))


@pytest.mark.slow
def test_promoting_a_big_overlay_writes_what_an_apply_would(tmp_path: Path) -> None:
    n = 50_000
    lazy_path, apply_path = tmp_path / "lazy.db", tmp_path / "apply.db"
    _seed_base(lazy_path)
    _seed_base(apply_path)
    with SQLiteStore(apply_path, dry_run=False) as s:
        _big_run(s, n)
    with _lazy(lazy_path) as s:
        s.put_customer(Customer("DROPPED", "LEAD-New", "ana"))
        s.rollback()
        _big_run(s, n)
    assert _rows(lazy_path) == _rows(apply_path)


@pytest.mark.slow
def test_promoting_a_big_overlay_is_quick(tmp_path: Path) -> None:
    n = 50_000
    path = tmp_path / "state.db"
    _seed_base(path)
    with _lazy(path) as s:
        for i in range(n):
            s.put_customer(Customer(f"C-{i:06d}", "LEAD-New", "ana", fields={"i": i}))
            s.put_opportunity(opp(f"O-{i:06d}", f"C-{i:06d}", seq=i))
            s.mark_seen("invoice", f"I-{i:06d}")
        started = time.perf_counter()
        s.commit()
        seconds = time.perf_counter() - started
    counts = {t: len(rows) for t, rows in _rows(path).items()}
    assert counts["customers"] == counts["opportunities"] == counts["seen"] == n + 1
    assert seconds < 5, seconds  # about 0.3 s on a laptop


def test_lazy_is_a_way_to_apply() -> None:
    with pytest.raises(ValueError, match="lazy is a way to apply"):
        SQLiteStore(None, dry_run=True, lazy=True)


_MEMORY_PROBE = """
import sys, tracemalloc
from sfa_rules.entities import Customer
from sfa_rules.state import MemoryStore, SQLiteStore

kind, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
trace = kind.endswith("+tracemalloc")


def status_kib(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to the current RSS
    f.write("5")
before = status_kib("VmRSS")
if trace:
    tracemalloc.start()
store = MemoryStore() if kind == "memory" else SQLiteStore(
    None if kind.startswith("scratch") else path, dry_run=kind.startswith("scratch"))
rows = (
    Customer(f"CUST-{i:07d}", "LEAD-New", "ana", "us-west",
             fields={"country": "US", "zip": f"{i % 99999:05d}"})
    for i in range(n)
)
for i, customer in enumerate(rows):
    store.put_customer(customer)
    if i % 5000 == 4999:
        store.commit()
store.commit()
assert store.get_customer(f"CUST-{n // 2:07d}") is not None
if trace:
    print(tracemalloc.get_traced_memory()[1] / 2**20)
else:
    print((status_kib("VmHWM") - before) / 1024)
store.close()
"""


def _peak_mib(tmp_path: Path, kinds: list[str], n: int = 200_000) -> dict[str, float]:
    """Peak memory growth (MiB) of ``n`` distinct customer puts, each kind in its own
    process (run side by side)."""
    procs = {
        kind: subprocess.Popen(
            [sys.executable, "-c", _MEMORY_PROBE, kind, str(tmp_path / f"{kind}.db"), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for kind in kinds
    }
    out = {kind: p.communicate(timeout=300)[0] for kind, p in procs.items()}
    assert all(p.returncode == 0 for p in procs.values()), out
    return {kind: float(text) for kind, text in out.items()}


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="Linux peak RSS probe")
def test_memory_stays_bounded_for_many_distinct_customers(tmp_path: Path) -> None:
    # Peak RSS growth, which counts SQLite's own allocations too (tracemalloc does not).
    # The SQLite stores hold one buffer (at most 10,000 records), a 2 MiB Bloom bitmap
    # and SQLite's page cache; a dict of all 200,000 customers takes several times that.
    peaks = _peak_mib(tmp_path, ["apply", "scratch", "memory"])
    assert peaks["apply"] < 24, peaks
    assert peaks["scratch"] < 24, peaks
    assert peaks["memory"] > 2 * max(peaks["apply"], peaks["scratch"]), peaks  # the probe sees it


@pytest.mark.slow
def test_traced_python_memory_stays_bounded(tmp_path: Path) -> None:
    # tracemalloc slows every allocation about tenfold, so 25,000 puts: 2.5 times the
    # write buffer, past the point where the peak stops growing
    peaks = _peak_mib(tmp_path, ["apply+tracemalloc", "scratch+tracemalloc"], n=25_000)
    assert max(peaks.values()) < 12, peaks
