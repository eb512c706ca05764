"""Customer statuses and opportunities: everything a row needs decided about them (SPEC §6-§8).

``Lifecycle(config, criteria_ctx, engine)`` is what the engine calls per row. It takes
and returns the ``entities`` values (the engine loads and stores them) and raises
``RecordError`` for a row that cannot be processed. Transitions are picked by a
``TransitionEvaluator``: durable-rules' Rete engine (``lifecycle_durable``) or the
built-in one (``transitions.NativeTransitions``); both decide identically. ``engine=
"auto"`` picks durable-rules where it imports; ``"durable"`` where it does not raises
``EngineUnavailable`` (for the CLI, a usage error).

Choices where SPEC is silent:

- A default slot that is not set: a new lead / prospect / customer row without a
  status gets the first status of its stage in file order; a transition to an unset
  ``{default: slot}`` is a configuration error (``unset-default``).
- Status ids match exactly, else ignoring case and surrounding blanks (unless
  ``settings.case_sensitive``) when that names exactly one status.
- A transition whose target is the current status fires (it stops the search) but
  changes nothing: the decision's ``transition`` is null, as for any row whose status
  did not change. A manual change to the current status likewise.
- In a guard, ``customer`` is the customer mapping (the record's own ``customer`` id
  is ``customer.id`` there); the customer's stored fields come first, then ``id``,
  ``status``, ``stage``, ``owner``, ``territory``, the three opportunity counts and
  the activity facts (``last_activity``, ``days_since_activity``, ``activities.<kind>``,
  ``contacts``; SPEC §18).
- Opportunity rows: see ``lifecycle_opportunities``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self, get_args

from sfa_rules.config.eventchecks import activity_kinds
from sfa_rules.config.models import Config, StatusMatch
from sfa_rules.config.order import STAGE_RANK
from sfa_rules.criteria import ir as criteria
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.criteria.values import blank
from sfa_rules.entities import Customer, Opportunity
from sfa_rules.errors import EngineUnavailable, RecordError
from sfa_rules.lifecycle.opportunities import (
    OpportunityOutcome,
    OpportunityRules,
    fold_index,
    resolve_id,
    unknown_in_state,
)
from sfa_rules.lifecycle.portfolio import Portfolio
from sfa_rules.lifecycle.transitions import (
    GuardView,
    NativeTransitions,
    Predicate,
    TransitionEvaluator,
    compile_transitions,
    customer_view,
    explain_transitions,
)

__all__ = [
    "TRANSACTION_EVENTS", "EngineName", "EngineUnavailable", "FireResult", "Lifecycle",
    "OpportunityOutcome",
]

EngineName = Literal["auto", "durable", "native"]

#: The lifecycle event raised by each transaction row type (SPEC §8).
TRANSACTION_EVENTS: dict[str, str] = {
    "estimate": "estimate.created",
    "sales_order": "sales_order.created",
    "invoice": "invoice.created",
    "cash_sale": "cash_sale.created",
}
_NEW_SLOTS = {"lead": "new_lead", "prospect": "new_prospect", "customer": "customer"}


@dataclass(frozen=True, slots=True)
class FireResult:
    """The customer's status after an event.

    ``transition`` names the transition only when it changed the status; ``fired``
    names the one that matched even when its target was the current status.
    """

    status: str
    transition: str | None
    fired: str | None = None
    trace: tuple[dict[str, Any], ...] | None = None
    # Values the guards' facts could not read (SPEC §3), when a guard was evaluated:
    # a record-level warning for every row is the engine's, whatever the guards did.
    warnings: tuple[str, ...] = ()


class Lifecycle:
    """The lifecycle of one configuration; call ``close()`` (or use ``with``) when done."""

    def __init__(
        self, config: Config, criteria_ctx: CriteriaContext, engine: EngineName = "auto"
    ) -> None:
        self._config = config
        self._ctx = criteria_ctx
        settings = config.settings
        self._fold = not settings.case_sensitive
        self._statuses = {s.id: s for s in config.statuses}
        self._stage_of = {s.id: s.stage for s in config.statuses}
        self._rank_of = {s.id: STAGE_RANK[s.stage] for s in config.statuses}
        self._folded = fold_index(self._statuses)
        self._opportunities = OpportunityRules(config)
        self._results: dict[tuple[str, str | None, str | None], FireResult] = {}
        self._defaults = config.lifecycle.defaults
        self._manual = config.lifecycle.manual
        self._transitions = compile_transitions(config, self._compile_guard)
        self._kinds = activity_kinds(config)
        self._make_facts: Callable[[Mapping[str, Any]], Any] = criteria_ctx.facts
        self._schema = criteria_ctx.schema  # for traces: values as the record wrote them
        self.evaluator: TransitionEvaluator = self._evaluator(engine)
        self.engine: str = self.evaluator.name  # "native" | "durable": what runs

    # -- setup ------------------------------------------------------------

    def _compile_guard(self, block: Mapping[str, Any], path: tuple[Any, ...]) -> Predicate:
        # The context parsed every block at load (problems included): compile its node.
        pred: Predicate = criteria.compile(self._ctx.node(path))
        return pred

    def _evaluator(self, engine: EngineName) -> TransitionEvaluator:
        if engine not in get_args(EngineName):  # the library's callers: the CLI checks
            raise ValueError(f"lifecycle_engine must be 'auto', 'durable' or 'native', "
                             f"not {engine!r}")
        if engine == "native":
            return NativeTransitions(self._transitions)
        from sfa_rules.lifecycle import durable as lifecycle_durable

        if engine == "auto" and not lifecycle_durable.available():
            return NativeTransitions(self._transitions)
        try:
            return lifecycle_durable.DurableTransitions(self._transitions)
        except EngineUnavailable:  # a ruleset its C core cannot hold: decide natively
            if engine == "auto":
                return NativeTransitions(self._transitions)
            raise

    def close(self) -> None:
        """Free the evaluator (durable-rules: delete its ruleset)."""
        self.evaluator.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statuses ---------------------------------------------------------

    def stage(self, status: str) -> str | None:
        """The stage of a customer status (None if the configuration lacks it)."""
        return self._stage_of.get(status)

    def probability(self, status: str) -> float | int | None:
        """The probability of a customer status."""
        s = self._statuses.get(status)
        return s.probability if s is not None else None

    @property
    def open_statuses(self) -> frozenset[str]:
        """The statuses whose records count toward a rep's load (``is_open``)."""
        return frozenset(s for s in self._statuses if self.is_open(s))

    def is_open(self, status: str) -> bool:
        """Counts toward a rep's load: lead or prospect stage and not closed (SPEC §4)."""
        s = self._statuses.get(status)
        return s is not None and s.stage != "customer" and not s.closed

    def resolve_status(self, status: Any) -> str:
        """The configured status id ``status`` names, or ``unknown-status``."""
        return resolve_id(status, self._statuses, self._folded, self._fold, "unknown-status", "status")

    def check_known(self, customer: Customer) -> None:
        """``unknown-status``: the state holds a status for ``customer`` that this
        configuration does not define (written under another configuration). Nothing
        about the customer can be decided then but a manual change (its repair)."""
        if customer.status not in self._statuses:
            raise RecordError("unknown-status", unknown_in_state(
                f"customer {customer.id!r}", customer.status, "statuses",
                "or move the customer to a configured status with a status_change row",
            ), field="status")

    def new_customer(self, record_type: str, status: Any) -> tuple[str, tuple[str, ...]]:
        """The status of a new lead / prospect / customer row, and its warnings."""
        if blank(status):
            slot = _NEW_SLOTS[record_type]
            chosen = getattr(self._defaults, slot)
            if chosen:
                return chosen, ()
            first = [s.id for s in self._config.statuses if s.stage == record_type]
            if not first:
                raise RecordError(
                    "unknown-status",
                    f"no status for a new {record_type}: lifecycle.defaults.{slot} is not set "
                    f"and no status has stage {record_type}",
                    field="status",
                )
            return first[0], ()
        sid = self.resolve_status(status)
        stage = self._stage_of[sid]
        if stage != record_type:
            warning = (
                f"stage-mismatch: a {record_type} row with status {sid!r} (stage {stage}): "
                "the status decides the stage"
            )
            return sid, (warning,)
        return sid, ()

    def manual_change(self, customer: Customer, new_status: Any) -> tuple[str, str | None]:
        """Apply a manual status change within ``manual.allow``: (status, "manual" | None)."""
        sid = self.resolve_status(new_status)
        current = customer.status
        if sid == current:
            return sid, None
        allow = self._manual.allow
        if allow == "forward_only" and self._rank_of[sid] < self._rank_of.get(current, -1):
            raise RecordError(
                "manual-change-refused",
                f"manual change of {customer.id} from {current!r} to {sid!r} refused: "
                "manual.allow is forward_only and the stage may not decrease",
                field="status",
            )
        if allow == "listed" and not any(
            self._admits(c.from_, current) and self._admits(c.to, sid)
            for c in self._manual.changes
        ):
            raise RecordError(
                "manual-change-refused",
                f"manual change of {customer.id} from {current!r} to {sid!r} refused: "
                "manual.allow is listed and no entry of manual.changes allows it",
                field="status",
            )
        return sid, "manual"

    def _admits(self, match: StatusMatch, status: str) -> bool:
        stage = self._stage_of.get(status)
        return (match.stage is None or stage in match.stage) and (
            match.status is None or status in match.status
        )

    # -- transaction rows -------------------------------------------------

    def event_for(self, record_type: str) -> str:
        """The event a transaction row raises; ``estimates-disabled`` when switched off."""
        if record_type == "estimate" and not self._config.settings.estimates:
            raise RecordError(
                "estimates-disabled", "estimate rows need settings.estimates: true"
            )
        return TRANSACTION_EVENTS[record_type]

    # -- opportunities ----------------------------------------------------

    def require_opportunities(self) -> None:
        """Raise ``opportunities-disabled`` when the configuration has them off."""
        self._opportunities.require_enabled()

    def opportunity_row(
        self,
        record: Mapping[str, Any],
        previous: Opportunity | None,
        customer: Customer | None,
        seq: int,
    ) -> OpportunityOutcome:
        """Decide an opportunity row (SPEC §7, §8): new value, event, probability.

        ``customer`` is the row's customer (by its ``customer`` field, else the
        previous value's), None when it has none or it is unknown.
        """
        return self._opportunities.decide(record, previous, customer, seq)

    # -- transitions ------------------------------------------------------

    def fire(
        self,
        event: str,
        event_record: Mapping[str, Any],
        customer: Customer,
        opportunities: Sequence[Opportunity] | Portfolio,
        explain: bool = False,
        day: str | None = None,
    ) -> FireResult:
        """The customer's status after ``event`` (SPEC §6): the first transition that matches.

        ``opportunities`` is the customer's opportunity list after the event, or its
        `Portfolio` (see `portfolio`); ``day`` the row's date (ISO), which guards'
        ``customer.days_since_activity`` counts to.
        """
        current = customer.status
        rank = self._rank_of.get(current, -1)
        held = opportunities if isinstance(opportunities, Portfolio) else self.portfolio(opportunities)
        assert not held.stale, "a stale portfolio: read the list again first"
        view = GuardView(
            lambda: self._make_facts(self._guard_record(event_record, customer, held, day)),
            lambda: self._follow(held),
        )
        trace: tuple[dict[str, Any], ...] | None = None
        if explain:
            chosen, steps = explain_transitions(self._transitions, event, current, rank, view,
                                                self._schema)
            trace = tuple(steps)
            picked = self.evaluator.pick(event, current, rank, view)
            assert picked is chosen, "the evaluator and its explanation disagree"
        else:
            chosen = self.evaluator.pick(event, current, rank, view)
        warnings = view.warnings()
        target = current if chosen is None else view.target(chosen)[0]
        assert target is not None  # pick never returns a transition without a target
        fired = chosen.id if chosen is not None else None
        changed = fired if target != current else None
        if trace is None and not warnings:
            # Results are immutable values: share them (this is the per-event hot path).
            key = (target, changed, fired)
            result = self._results.get(key)
            if result is None:
                result = self._results[key] = FireResult(target, changed, fired)
            return result
        return FireResult(target, changed, fired, trace, warnings)

    def portfolio(self, opportunities: Iterable[Opportunity]) -> Portfolio:
        """A customer's opportunity list summarised for `fire`."""
        rules = self._opportunities
        return Portfolio.of(opportunities, rules.outcome, rules.open_ids)

    def portfolio_put(self, held: Portfolio, old: Opportunity | None, new: Opportunity) -> None:
        """Bring ``held`` up to date with one write of its customer's opportunities."""
        rules = self._opportunities
        held.put(old, new, rules.outcome, rules.open_ids)

    def _guard_record(
        self, record: Mapping[str, Any], customer: Customer, held: Portfolio, day: str | None
    ) -> Mapping[str, Any]:
        guard_record = dict(record)
        guard_record["customer"] = customer_view(
            customer, self._stage_of.get(customer.status), held.counts(), self._kinds, day
        )
        return guard_record

    def _follow(self, held: Portfolio) -> tuple[str | None, int]:
        # SPEC §6 {follow: opportunity}: the status mapped from the most advanced open one
        best = held.best
        mapped = self._opportunities.mapping.get(best.status) if best is not None else None
        target = mapped or self._defaults.prospect_with_opportunity
        return target, (self._rank_of.get(target, -1) if target else -1)
