"""Opportunity rows (SPEC §7): the opportunity's new value, and the event it raises on
its customer (``opportunity.created``, ``.won``, ``.lost``, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sfa_rules.criteria.values import text
from sfa_rules.engine.context import ALREADY_APPLIED, APPLIED, At, RowContext, required
from sfa_rules.engine.decision import Decision
from sfa_rules.engine.transactions import Effect, transaction_decision
from sfa_rules.entities import Customer, Opportunity

__all__ = ["opportunity_row"]


def opportunity_row(
    ctx: RowContext, source: str | None, row: int | None, record: Mapping[str, Any]
) -> Decision:
    """Decide an opportunity row: a row applied before changes nothing (SPEC §9)."""
    rules, store = ctx.rules, ctx.store
    lifecycle = rules.lifecycle
    lifecycle.require_opportunities()
    oid = required(record, "id")
    previous = store.get_opportunity(oid)
    customer_id = text(record.get("customer")) or (previous.customer if previous else None)
    customer = store.get_customer(customer_id) if customer_id else None
    if customer is not None:
        lifecycle.check_known(customer)
    replay = ctx.fingerprint("opportunity", oid)
    at = At(source, row, "opportunity", oid)
    if previous is not None and store.seen(APPLIED, replay):
        return _replayed(ctx, at, previous, customer)
    top = ctx.portfolios.of(customer.id).max_seq if customer is not None else None
    seq = (top if top is not None else previous.seq if previous else 0) + 1
    outcome = lifecycle.opportunity_row(record, previous, customer, seq)
    ctx.portfolios.put(previous, outcome.opportunity)
    store.mark_seen(APPLIED, replay)
    warnings = [*rules.ctx.facts(record).warnings, *outcome.warnings]
    fired = None
    before = customer.status if customer is not None else None
    if outcome.event is not None and customer is not None:
        day = ctx.day(record)
        opp = outcome.opportunity
        ctx.history(customer.id, day, "opportunity", {
            "id": opp.id, "status": opp.status, "amount": opp.amount, "event": outcome.event})
        held = ctx.portfolios.of(customer.id)
        fired = lifecycle.fire(outcome.event, record, customer, held, ctx.explain, day)
        warnings.extend(w for w in fired.warnings if w not in warnings)
        customer = ctx.after_event(customer, fired.status, outcome.event, day)
    return transaction_decision(ctx, at, Effect(
        customer, fired, warnings, outcome.event,
        status=outcome.status, probability=outcome.probability, forecast=outcome.forecast,
        previous=before if fired is not None and fired.transition else None,
    ))


def _replayed(
    ctx: RowContext, at: At, current: Opportunity, customer: Customer | None
) -> Decision:
    """A row applied before: the opportunity as it stands, no event."""
    status = ctx.rules.opportunity_statuses.get(current.status)
    return transaction_decision(ctx, at._replace(id=current.id), Effect(
        customer, None, [ALREADY_APPLIED], None,
        status=current.status, probability=current.probability,
        forecast=status.forecast if status else None,
    ))
