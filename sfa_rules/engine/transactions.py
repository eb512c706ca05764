"""Transaction rows (estimates, sales orders, invoices, cash sales; SPEC §6) and status
changes: an event (or a manual change) on a known customer. Also the decision of every
row that shows a customer as a transaction leaves it (opportunities' too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sfa_rules.criteria.values import text
from sfa_rules.engine.context import ALREADY_APPLIED, APPLIED, At, RowContext, required
from sfa_rules.engine.decision import Decision
from sfa_rules.entities import Customer
from sfa_rules.lifecycle.statuses import FireResult

__all__ = ["Effect", "status_change_row", "transaction_decision", "transaction_row"]


class Effect(NamedTuple):
    """What a row did to its customer, as its decision shows it. ``status`` and
    ``probability`` are the row's own (an opportunity's), else the customer's;
    ``previous`` the customer's status before, when a transition changed it."""

    customer: Customer | None
    fired: FireResult | None
    warnings: list[str]
    event: str | None
    status: str | None = None
    probability: float | None = None
    forecast: str | None = None
    previous: str | None = None


def transaction_decision(ctx: RowContext, at: At, effect: Effect) -> Decision:
    """The decision of a row that shows its customer as it now stands."""
    lifecycle = ctx.rules.lifecycle
    customer, fired = effect.customer, effect.fired
    status, probability = effect.status, effect.probability
    if status is None and customer is not None:
        status, probability = customer.status, lifecycle.probability(customer.status)
    trace = None
    if ctx.explain:
        trace = tuple(fired.trace or ()) if fired is not None else ()
    return Decision(
        at.source, at.row, at.type, at.id,
        owner=customer.owner if customer else None,
        territory=customer.territory if customer else None,
        status=status, probability=probability,
        stage=lifecycle.stage(customer.status) if customer else None,
        previous_status=effect.previous,
        transition=fired.transition if fired is not None else None,
        event=effect.event, warnings=tuple(effect.warnings),
        customer=customer.id if customer else None,
        customer_status=customer.status if customer else None, forecast=effect.forecast,
        trace=trace,
    )


def transaction_row(
    ctx: RowContext, source: str | None, row: int | None, rtype: str, record: Mapping[str, Any]
) -> Decision:
    """A transaction raises its event once (SPEC §6): a transaction seen before raises none."""
    rules, store = ctx.rules, ctx.store
    event: str | None = rules.lifecycle.event_for(rtype)
    tid = required(record, "id")
    customer = ctx.known_customer(record)
    rules.lifecycle.check_known(customer)
    fired = None
    before = customer.status
    warnings = list(rules.ctx.facts(record).warnings)
    if store.seen(rtype, tid):
        event = None  # a transaction already seen raises no event again (SPEC §6)
    else:
        store.mark_seen(rtype, tid)
        assert event is not None
        held = ctx.portfolios.of(customer.id)
        day = ctx.day(record)
        fired = rules.lifecycle.fire(event, record, customer, held, ctx.explain, day)
        warnings.extend(w for w in fired.warnings if w not in warnings)
        customer = ctx.after_event(customer, fired.status, event, day)
    previous = before if fired is not None and fired.transition else None
    return transaction_decision(ctx, At(source, row, rtype, tid),
                                Effect(customer, fired, warnings, event, previous=previous))


def status_change_row(
    ctx: RowContext, source: str | None, row: int | None, record: Mapping[str, Any]
) -> Decision:
    """A manual status change of a known customer (once per row of an input, SPEC §9)."""
    status = required(record, "status")
    customer = ctx.known_customer(record)
    before = customer.status
    replay = ctx.fingerprint("status_change", customer.id)
    transition = None
    warnings = list(ctx.rules.ctx.facts(record).warnings)
    if ctx.store.seen(APPLIED, replay):
        warnings.append(ALREADY_APPLIED)
    else:
        new_status, transition = ctx.rules.lifecycle.manual_change(customer, status)
        customer = ctx.after_event(customer, new_status, None, ctx.day(record))
        ctx.store.mark_seen(APPLIED, replay)
    decision = transaction_decision(
        ctx, At(source, row, "status_change", text(record.get("id"))),
        Effect(customer, None, warnings, None),
    )
    if transition is None:
        return decision
    return decision._replace(transition=transition, previous_status=before)
