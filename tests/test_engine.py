"""The engine's own rules over rows (SPEC §6, §8, §9): tables of record streams through
the shipped configuration, asserting the decisions users see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sfa_rules
from sfa_rules.state.store import MemoryStore

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def engine() -> sfa_rules.Engine:
    return sfa_rules.load(REPO)


def run(engine: sfa_rules.Engine, rows: list[dict[str, Any]], store: MemoryStore | None = None,
        **options: Any) -> list[dict[str, Any]]:
    session = engine.session(store or MemoryStore(), **options)
    return [d.to_dict() for d in session.process(rows)]


LEAD = {"type": "lead", "id": "L-1", "country": "US", "state": "CA"}

# (name, rows, index of the decision checked, expected subset)
CASES = [
    ("numeric warning on a transaction row",
     [LEAD, {"type": "sales_order", "id": "S-1", "customer": "L-1", "employees": "n/a"}], 1,
     {"warnings": ["employees: 'n/a' is not a number"], "transition": "sale-makes-customer"}),
    ("numeric warning on a status change",
     [LEAD, {"type": "status_change", "customer": "L-1", "status": "LEAD-Qualified",
             "employees": "many"}], 1,
     {"warnings": ["employees: 'many' is not a number"], "transition": "manual",
      "previous_status": "LEAD-New", "id": None}),
    ("status change of an unknown customer",
     [{"type": "status_change", "customer": "L-9", "status": "LEAD-Qualified"}], 0,
     {"error": {"code": "unknown-customer", "field": "customer",
                "message": "unknown customer 'L-9': neither in the state nor earlier in the run"},
      "customer": "L-9", "customer_status": None}),
    ("transaction in error keeps the customer's status",
     [LEAD, {"type": "invoice", "customer": "L-1"}], 1,
     {"error": {"code": "missing-field", "field": "id",
                "message": "required field 'id' is missing or empty"},
      "customer_status": "LEAD-New"}),
    ("a transaction seen before raises no event",
     [LEAD, {"type": "estimate", "id": "E-1", "customer": "L-1"},
      {"type": "estimate", "id": "E-1", "customer": "L-1"}], 2,
     {"event": None, "transition": None, "customer_status": "PROSPECT-Proposal"}),
    ("a known lead naming another status is a manual change",
     [LEAD, {**LEAD, "status": "LEAD-Dead"}], 1,
     {"transition": "manual", "previous_status": "LEAD-New", "status": "LEAD-Dead",
      "assigned_by": "known"}),
    ("aliases: headers of a real export",
     [{"Type": "lead", " ID ": "L-7", "Billing Country": "us", "STATE": " ca "}], 0,
     {"id": "L-7", "territory": "us-west", "assigned_by": "territory:us-west"}),
    ("a record with no type",
     [{"id": "X-1"}], 0, {"error": {"code": "unknown-type", "field": "type",
                                    "message": "the record has no type"}}),
]


@pytest.mark.parametrize(("rows", "at", "expected"),
                         [pytest.param(r, i, e, id=n) for n, r, i, e in CASES])
def test_decisions(engine: sfa_rules.Engine, rows: list[dict[str, Any]], at: int,
                   expected: dict[str, Any]) -> None:
    got = run(engine, rows)[at]
    assert {k: got[k] for k in expected} == expected


REPLAYS = [
    ("opportunity history", [
        LEAD,
        {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "Proposal"},
        {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "In Negotiation"},
    ]),
    ("status changes", [
        LEAD,
        {"type": "status_change", "customer": "L-1", "status": "LEAD-Qualified"},
        {"type": "status_change", "customer": "L-1", "status": "LEAD-Dead"},
    ]),
    ("a lead row with a status, then an opportunity", [
        {**LEAD, "status": "LEAD-Qualified"},
        {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "Proposal"},
    ]),
]


@pytest.mark.parametrize("rows", [pytest.param(r, id=n) for n, r in REPLAYS])
def test_applying_twice_changes_nothing(engine: sfa_rules.Engine, rows: list[dict[str, Any]]) -> None:
    store = MemoryStore()
    first = run(engine, rows, store)
    customers = {c: store.get_customer(c) for c in ("L-1",)}
    again = run(engine, rows, store)
    assert all(d["transition"] is None and d["event"] is None for d in again)
    assert {c: store.get_customer(c) for c in ("L-1",)} == customers
    assert again[-1]["status"] == first[-1]["status"]


def test_loads_follow_owner_and_status(engine: sfa_rules.Engine) -> None:
    store = MemoryStore()
    rows = [LEAD, {"type": "sales_order", "id": "S-1", "customer": "L-1"}]
    decided = run(engine, rows[:1], store)
    owner = decided[0]["owner"]
    assert store.open_count(owner) == 1
    run(engine, rows[1:], store)  # a customer is no longer open (SPEC §4)
    assert store.open_count(owner) == 0


def test_reassign_keeps_locked_owners(engine: sfa_rules.Engine) -> None:
    store = MemoryStore()
    rows = [{**LEAD, "id": f"L-{i}", "owner_locked": "true" if i == 0 else ""} for i in range(4)]
    first = run(engine, rows, store)
    again = run(engine, rows, store, reassign=True)
    assert again[0]["owner"] == first[0]["owner"] and again[0]["assigned_by"] == "known"
    assert all(d["assigned_by"] == "territory:us-west" for d in again[1:])


@pytest.mark.parametrize(("lock", "kept"), [
    ("false", False),  # a row that says false unlocks the record
    ("no", False),
    ("", True),  # a row that says nothing keeps the lock
    ("true", True),
    ("T", True),  # not a no: the lock stays
    ("x", True),
])
def test_a_row_sets_or_keeps_owner_locked(engine: sfa_rules.Engine, lock: str,
                                          kept: bool) -> None:
    store = MemoryStore()
    run(engine, [{**LEAD, "owner_locked": "true"}], store)
    again = run(engine, [{**LEAD, "owner_locked": lock}], store, reassign=True)
    assert store.get_customer("L-1").owner_locked is kept
    assert (again[0]["assigned_by"] == "known") is kept


def test_reassign_does_not_count_a_record_against_its_own_owner(
        engine: sfa_rules.Engine) -> None:
    """maria.rojas (max_open 4) holds four leads: assigned again, each stays with her."""
    store = MemoryStore()
    rows = [{"type": "lead", "id": f"M-{i}", "country": "MX", "created": "2026-03-02"}
            for i in range(4)]
    first = run(engine, rows, store)
    again = run(engine, rows, store, reassign=True)
    assert {d["owner"] for d in first} == {"maria.rojas"}
    assert [(d["owner"], d["warnings"]) for d in again] == [("maria.rojas", [])] * 4
    assert store.open_count("maria.rojas") == 4


def test_a_record_passed_over_says_who_was_skipped_and_why(engine: sfa_rules.Engine) -> None:
    """SPEC §4: no eligible member -> the next territory; the decision says why."""
    rows = [{"type": "lead", "id": f"L-{i}", "country": "MX"} for i in range(5)]
    decided = run(engine, rows)
    assert [d["territory"] for d in decided] == ["latam"] * 4 + ["unassigned-pool"]
    assert decided[4]["warnings"] == [(
        "skipped-members: territory latam: no eligible member "
        "(pedro.silva inactive, maria.rojas at capacity 4/4)"
    )]
    assert all(d["warnings"] == [] for d in decided[:4])
