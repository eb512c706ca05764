"""Activity and contact rows (SPEC §18): what reps did with a known customer. Each one
counts in the customer's facts and history, and raises its event (``activity.<kind>``,
``contact.created``) as a transaction raises its own, once: a row seen before (by its
``id``, else by its place in its input) changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sfa_rules.config.models import CONTACT_EVENT
from sfa_rules.criteria.facts import parse_iso_date
from sfa_rules.criteria.values import text
from sfa_rules.engine.context import ALREADY_APPLIED, APPLIED, At, RowContext, required
from sfa_rules.engine.decision import Decision
from sfa_rules.engine.transactions import Effect, transaction_decision
from sfa_rules.entities import Customer
from sfa_rules.errors import RecordError, did_you_mean

__all__ = ["activity_row", "contact_row"]

_CONTACT_FIELDS = ("name", "email", "phone", "role")


def activity_row(
    ctx: RowContext, source: str | None, row: int | None, record: Mapping[str, Any]
) -> Decision:
    """An activity of a known customer: its date (default the run's as-of date), its
    kind's count and the customer's last activity, then the event ``activity.<kind>``."""
    required(record, "customer")
    kind = _kind(ctx, required(record, "kind"))
    day = _date(ctx, record)
    customer = ctx.known_customer(record)
    ctx.rules.lifecycle.check_known(customer)
    owner = text(record.get("owner")) or customer.owner
    detail = {"kind": kind, "id": text(record.get("id")), "owner": owner,
              "subject": text(record.get("subject")), "outcome": text(record.get("outcome"))}
    last = customer.last_activity
    counted = customer._replace(
        last_activity=day if last is None or day > last else last,
        activities={**customer.activities, kind: customer.activities.get(kind, 0) + 1},
    )
    return _raise(ctx, At(source, row, "activity", detail["id"]), record, customer, counted,
                  f"activity.{kind}", day, detail)


def contact_row(
    ctx: RowContext, source: str | None, row: int | None, record: Mapping[str, Any]
) -> Decision:
    """A new contact of a known customer: its count, then the event ``contact.created``."""
    customer = ctx.known_customer(record)
    ctx.rules.lifecycle.check_known(customer)
    detail = {"id": text(record.get("id")), **{f: text(record.get(f)) for f in _CONTACT_FIELDS}}
    counted = customer._replace(contacts=customer.contacts + 1)
    return _raise(ctx, At(source, row, "contact", detail["id"]), record, customer, counted,
                  CONTACT_EVENT, ctx.day(record), detail)


def _raise(
    ctx: RowContext, at: At, record: Mapping[str, Any], customer: Customer, counted: Customer,
    event: str, day: str, detail: Mapping[str, Any],
) -> Decision:
    """Count the row in its customer's facts and history, then raise its event (once)."""
    assert at.type is not None
    store, lifecycle = ctx.store, ctx.rules.lifecycle
    warnings = list(ctx.rules.ctx.facts(record).warnings)
    if at.id is not None:  # a transaction with an id: seen by its id (SPEC §6)
        if store.seen(at.type, at.id):
            return transaction_decision(ctx, at, Effect(customer, None, warnings, None))
        store.mark_seen(at.type, at.id)
    else:  # no id: seen by its place in its input, as a status change is
        replay = ctx.fingerprint(at.type, customer.id)
        if store.seen(APPLIED, replay):
            warnings.append(ALREADY_APPLIED)
            return transaction_decision(ctx, at, Effect(customer, None, warnings, None))
        store.mark_seen(APPLIED, replay)
    ctx.save(customer, counted)
    ctx.history(customer.id, day, at.type, detail)
    held = ctx.portfolios.of(customer.id)
    fired = lifecycle.fire(event, record, counted, held, ctx.explain, day)
    warnings.extend(w for w in fired.warnings if w not in warnings)
    after = ctx.after_event(counted, fired.status, event, day)
    previous = customer.status if fired.transition else None
    return transaction_decision(ctx, at, Effect(after, fired, warnings, event, previous=previous))


def _kind(ctx: RowContext, written: str) -> str:
    """The activity kind ``written`` names (case and blanks ignored unless
    ``settings.case_sensitive``); ``unknown-activity-kind`` when none."""
    found = ctx.rules.kind_of(written)
    if found is not None:
        return found
    kinds = ctx.rules.activity_kinds
    raise RecordError(
        "unknown-activity-kind",
        f"unknown activity kind {written!r}{did_you_mean(written.strip().lower(), kinds)}: "
        f"the kinds are {', '.join(kinds)} (settings.activity_kinds adds more)",
        field="kind",
    )


def _date(ctx: RowContext, record: Mapping[str, Any]) -> str:
    """The activity's ``date`` (ISO: an import converts its own format), else the run's
    as-of date; ``bad-date`` when it is no date."""
    value = record.get("date")
    if isinstance(value, date):
        return value.isoformat()[:10]
    written = text(value)
    if written is None:
        return ctx.day({})
    day = parse_iso_date(written)
    if day is None:
        raise RecordError("bad-date", f"date {written!r} is not a date (YYYY-MM-DD)",
                          field="date")
    return day
