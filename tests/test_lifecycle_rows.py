"""Opportunity rows and status helpers as tables, and invariants of opportunity rows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lifecycle_driver import load, write_config

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.errors import RecordError
from sfa_rules.lifecycle.opportunities import parse_probability
from sfa_rules.lifecycle.statuses import Lifecycle


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    config, ctx = load(write_config("shipped", tmp_path_factory.mktemp("shipped")))
    with Lifecycle(config, ctx, engine="native") as lifecycle:
        yield lifecycle


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), ("  ", None), (0, 0), (100, 100), ("55", 55), (" 12.5 ", 12.5),
     ("75%", 75), ("1e1", 10), (33.3, 33.3)],
)
def test_probability_parses(raw: Any, expected: Any) -> None:
    assert parse_probability(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "101", -0.5, 1000, True, False, "nan", "inf", "50%%"])
def test_probability_refused(raw: Any) -> None:
    with pytest.raises(RecordError) as err:
        parse_probability(raw)
    assert (err.value.code, err.value.field) == ("bad-probability", "probability")


@pytest.mark.parametrize(
    ("status", "is_open", "stage", "probability"),
    [("LEAD-New", True, "lead", 0), ("LEAD-Dead", False, "lead", 0),
     ("PROSPECT-Proposal", True, "prospect", 50), ("PROSPECT-Closed Lost", False, "prospect", 0),
     ("CUSTOMER-Closed Won", False, "customer", 100), ("Nope", False, None, None)],
)
def test_status_facts(lc: Lifecycle, status: str, is_open: bool, stage: Any, probability: Any) -> None:
    assert (lc.is_open(status), lc.stage(status), lc.probability(status)) == (
        is_open, stage, probability,
    )


def test_opportunity_value_carries_the_row(lc: Lifecycle) -> None:
    customer = Customer("C1", "PROSPECT-Proposal")
    first = lc.opportunity_row(
        {"id": " O1 ", "customer": "C1", "status": "Proposal", "owner": "ana", "amount": "10",
         "expected_close": "2027-01-31"}, None, customer, 7,
    )
    assert first.opportunity == Opportunity(
        "O1", "C1", "Proposal", 50, False, "ana", "10", "2027-01-31", seq=7
    )
    # A later row without the customer, amount or owner keeps them; same status: no event.
    again = lc.opportunity_row({"id": "O1"}, first.opportunity, customer, 8)
    assert again.event is None
    assert again.opportunity == first.opportunity  # nothing changed, not even seq


def test_unknown_customer_is_a_record_error(lc: Lifecycle) -> None:
    with pytest.raises(RecordError) as err:
        lc.opportunity_row({"id": "O1", "customer": "C404", "status": "Proposal"}, None, None, 1)
    assert (err.value.code, err.value.field) == ("unknown-customer", "customer")
    assert "C404" in err.value.message


def test_event_for_transaction_rows(lc: Lifecycle) -> None:
    assert [lc.event_for(t) for t in ("estimate", "sales_order", "invoice", "cash_sale")] == [
        "estimate.created", "sales_order.created", "invoice.created", "cash_sale.created",
    ]


OPP_STATUSES = ["Identified Opportunity", "Proposal", "Purchasing", "Closed Won", "Closed Lost"]


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(
    st.fixed_dictionaries({
        "status": st.sampled_from([None, *OPP_STATUSES]),
        "probability": st.one_of(st.none(), st.integers(0, 100), st.floats(0, 100)),
    }),
    min_size=1, max_size=12,
))
def test_opportunity_row_invariants(lc: Lifecycle, rows: list[dict[str, Any]]) -> None:
    """Probability stays in 0-100; won/lost is raised exactly when the outcome is gained;
    exactly one created per opportunity, first."""
    previous: Opportunity | None = None
    customer = Customer("C1", "PROSPECT-Proposal")
    outcomes = {"Closed Won": "won", "Closed Lost": "lost"}
    for seq, row in enumerate(rows, start=1):
        out = lc.opportunity_row({"id": "O1", "customer": "C1", **row}, previous, customer, seq)
        assert 0 <= out.probability <= 100
        had = outcomes.get(previous.status) if previous else None
        has = outcomes.get(out.status)
        if has is not None and has != had:
            assert out.event == f"opportunity.{has}"
        elif previous is None:
            assert out.event == "opportunity.created"
        else:
            assert out.event == ("opportunity.updated" if out.status != previous.status else None)
        if row["probability"] is not None:
            assert out.probability == row["probability"] and out.opportunity.override
        previous = out.opportunity

