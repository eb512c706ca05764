"""Each customer's opportunities as the rows of one session read them (SPEC §6, §7).

Every opportunity row and transaction reads its customer's opportunity counts and most
advanced open one; reading the whole list from the store each time made a customer
with thousands of opportunities cost thousands of steps per row (40,000 rows of a CRM
export took minutes). The session keeps each customer's `Portfolio` and brings it up
to date with every write it makes, which is every opportunity write there is while the
session runs (the store has one writer).
"""

from __future__ import annotations

from sfa_rules.entities import Opportunity
from sfa_rules.lifecycle.portfolio import Portfolio
from sfa_rules.lifecycle.statuses import Lifecycle
from sfa_rules.state import Store

__all__ = ["Portfolios"]

HELD = 100_000  # portfolios kept at most; past that they are read again as needed


class Portfolios:
    """The portfolios of the customers a session's rows touched."""

    def __init__(self, lifecycle: Lifecycle, store: Store) -> None:
        self._lifecycle = lifecycle
        self._store = store
        self._held: dict[str, Portfolio] = {}

    def clear(self) -> None:
        """Forget every portfolio (the store was rolled back)."""
        self._held.clear()

    def of(self, customer_id: str) -> Portfolio:
        """The customer's portfolio as the store holds it now."""
        held = self._held.get(customer_id)
        if held is None or held.stale:
            if len(self._held) >= HELD:
                self._held.clear()
            held = self._lifecycle.portfolio(self._store.opportunities_of(customer_id))
            self._held[customer_id] = held
        return held

    def put(self, previous: Opportunity | None, new: Opportunity) -> None:
        """Store ``new`` (the opportunity's value was ``previous``), portfolios in step."""
        self._store.put_opportunity(new)
        moved = previous is not None and previous.customer != new.customer
        if moved and previous is not None and previous.customer is not None:
            self._held.pop(previous.customer, None)
        held = self._held.get(new.customer) if new.customer is not None else None
        if held is not None:
            self._lifecycle.portfolio_put(held, None if moved else previous, new)
