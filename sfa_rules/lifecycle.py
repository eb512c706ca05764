"""Customer statuses and opportunities: everything a row needs decided about them (SPEC §6-§8).

``Lifecycle(config, criteria_ctx, engine)`` is what the engine calls per row. It takes
and returns the ``entities`` values (the engine loads and stores them) and raises
``RecordError`` for a row that cannot be processed. Transitions are picked by a
``TransitionEvaluator``: durable-rules' Rete engine (``lifecycle_durable``) or the
built-in one (``transitions.NativeTransitions``); both decide identically.

Choices where SPEC is silent:

- A default slot that is not set: a new lead / prospect / customer row without a
  status gets the first status of its stage in file order; a transition to an unset
  ``{default: slot}`` never fires (its trace says so).
- Status ids match exactly, else ignoring case and surrounding blanks (unless
  ``settings.case_sensitive``) when that names exactly one status.
- A transition whose target is the current status fires (it stops the search) but
  changes nothing: the decision's ``transition`` is null, as for any row whose status
  did not change. A manual change to the current status likewise.
- An opportunity row without a status keeps its previous status, or, when new, gets
  the first opportunity status without an outcome.
- A won or lost status always takes its own probability unless the row carries one:
  an outcome ends a per-opportunity override under ``keep`` too.
- A probability may carry a trailing ``%`` (``"75%"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

from sfa_rules import criteria
from sfa_rules.criteria import CriteriaContext

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.errors import RecordError, did_you_mean
from sfa_rules.models import Config, StatusMatch
from sfa_rules.transitions import (
    STAGE_RANK,
    GuardView,
    NativeTransitions,
    Predicate,
    TransitionEvaluator,
    compile_transitions,
    customer_view,
    explain,
    follow_target,
)

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
class OpportunityOutcome:
    """What an opportunity row decides: the new value and the event it raises."""

    opportunity: Opportunity
    event: str | None
    status: str
    probability: float | int
    forecast: str
    warnings: tuple[str, ...] = ()


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
    warnings: tuple[str, ...] = ()  # unreadable values the guards met (SPEC §3)


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
        self._folded = _fold_index(self._statuses)
        self._opp = {o.id: o for o in config.opportunity_statuses}
        self._opp_folded = _fold_index(self._opp)
        self._opp_open = frozenset(o.id for o in config.opportunity_statuses if o.outcome is None)
        self._opp_outcome = {o.id: o.outcome for o in config.opportunity_statuses}
        self._opp_map = {o.id: o.customer_status for o in config.opportunity_statuses}
        first_open = [o.id for o in config.opportunity_statuses if o.outcome is None]
        self._opp_first = first_open[0] if first_open else None
        self._defaults = config.lifecycle.defaults
        self._manual = config.lifecycle.manual
        self._transitions = compile_transitions(config, self._compile_guard)
        self._make_facts = self._facts_factory()
        self.evaluator: TransitionEvaluator = self._evaluator(engine)
        self.engine = getattr(self.evaluator, "name", "native")

    # -- setup ------------------------------------------------------------

    def _compile_guard(self, block: Mapping[str, Any], path: tuple[Any, ...]) -> Predicate:
        # The context parsed every block at load (problems included): compile its node.
        pred: Predicate = criteria.compile(self._ctx.node(path))
        return pred

    def _facts_factory(self) -> Callable[[Mapping[str, Any]], Any]:
        if not any(t.guard is not None for t in self._transitions):
            return lambda record: record  # no guard reads facts: skip building them
        make: Callable[[Mapping[str, Any]], Any] = self._ctx.facts
        return make

    def _evaluator(self, engine: EngineName) -> TransitionEvaluator:
        if engine == "native":
            return NativeTransitions(self._transitions)
        from sfa_rules import lifecycle_durable

        if engine == "auto" and not lifecycle_durable.available():
            return NativeTransitions(self._transitions)
        return lifecycle_durable.DurableTransitions(self._transitions)

    def close(self) -> None:
        """Free the evaluator (durable-rules: delete its ruleset)."""
        self.evaluator.close()

    def __enter__(self) -> Lifecycle:
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

    def is_open(self, status: str) -> bool:
        """Counts toward a rep's load: lead or prospect stage and not closed (SPEC §4)."""
        s = self._statuses.get(status)
        return s is not None and s.stage != "customer" and not s.closed

    def resolve_status(self, status: Any) -> str:
        """The configured status id ``status`` names, or ``unknown-status``."""
        return _resolve(status, self._statuses, self._folded, self._fold, "unknown-status", "status")

    def new_customer(self, record_type: str, status: Any) -> tuple[str, tuple[str, ...]]:
        """The status of a new lead / prospect / customer row, and its warnings."""
        if _blank(status):
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
            return sid, (
                f"stage-mismatch: a {record_type} row with status {sid!r} (stage {stage}): "
                "the status decides the stage",
            )
        return sid, ()

    def manual_change(self, customer: Customer, new_status: Any) -> tuple[str, str | None]:
        """Apply a manual status change within ``manual.allow``: (status, "manual" | None)."""
        sid = self.resolve_status(new_status)
        current = customer.status
        if sid == current:
            return sid, None
        allow = self._manual.allow
        if allow == "forward_only":
            if self._rank_of[sid] < self._rank_of.get(current, -1):
                raise RecordError(
                    "manual-change-refused",
                    f"manual change of {customer.id} from {current!r} to {sid!r} refused: "
                    "manual.allow is forward_only and the stage may not decrease",
                    field="status",
                )
        elif allow == "listed":
            if not any(
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

    def opportunity_row(
        self,
        record: Mapping[str, Any],
        previous: Opportunity | None,
        customer: Customer | None,
        seq: int,
    ) -> OpportunityOutcome:
        """Decide an opportunity row (SPEC §7, §8): new value, event, probability."""
        if not self._config.settings.opportunities:
            raise RecordError(
                "opportunities-disabled", "opportunity rows need settings.opportunities: true"
            )
        oid = str(record["id"]).strip()
        raw = record.get("status")
        if not _blank(raw):
            status = _resolve(
                raw, self._opp, self._opp_folded, self._fold, "unknown-opportunity-status", "status"
            )
        elif previous is not None:
            status = previous.status
        elif self._opp_first is not None:
            status = self._opp_first
        else:
            raise RecordError(
                "unknown-opportunity-status",
                "the opportunity has no status and no open opportunity status is configured",
                field="status",
            )
        ostatus = self._opp[status]
        given = _probability(record.get("probability"))
        changed = previous is None or previous.status != status
        if given is not None:
            probability, override = given, True
        elif (
            previous is not None
            and previous.override
            and ostatus.outcome is None
            and (not changed or self._config.forecast.override == "keep")
        ):
            probability, override = previous.probability, True
        else:
            probability, override = ostatus.probability, False
        customer_id = _text(record.get("customer"))
        warnings: tuple[str, ...] = ()
        if customer_id is None:
            customer_id = previous.customer if previous is not None else None
        if customer_id is None:
            warnings = (f"no-customer: opportunity {oid} has no customer: no lifecycle event",)
        elif customer is None:
            raise RecordError(
                "unknown-customer", f"unknown customer {customer_id!r}", field="customer"
            )
        outcome = ostatus.outcome
        event: str | None
        if outcome is not None and (previous is None or self._opp_outcome[previous.status] != outcome):
            event = f"opportunity.{outcome}"
        elif previous is None:
            event = "opportunity.created"
        elif changed:
            event = "opportunity.updated"
        else:
            event = None
        if customer_id is None:
            event = None
        moved = changed or previous is None or previous.probability != probability
        value = Opportunity(
            id=oid,
            customer=customer_id,
            status=status,
            probability=probability,
            override=override,
            owner=_text(record.get("owner")) or (previous.owner if previous else None),
            amount=_text(record.get("amount")) or (previous.amount if previous else None),
            expected_close=_text(record.get("expected_close"))
            or (previous.expected_close if previous else None),
            seq=seq if moved or previous is None else previous.seq,
        )
        return OpportunityOutcome(value, event, status, probability, ostatus.forecast, warnings)

    # -- transitions ------------------------------------------------------

    def fire(
        self,
        event: str,
        event_record: Mapping[str, Any],
        customer: Customer,
        opportunities: Sequence[Opportunity],
        explain_: bool = False,
    ) -> FireResult:
        """The customer's status after ``event`` (SPEC §6): the first transition that matches.

        ``opportunities`` is the customer's opportunity list after the event.
        """
        current = customer.status
        rank = self._rank_of.get(current, -1)
        view = GuardView(
            self._guard_record(event_record, customer, opportunities),
            self._make_facts,
            lambda: self._follow(opportunities),
        )
        trace: tuple[dict[str, Any], ...] | None = None
        if explain_:
            chosen, steps = explain(self._transitions, event, current, rank, view)
            trace = tuple(steps)
            picked = self.evaluator.pick(event, current, rank, view)
            assert picked is chosen, "the evaluator and its explanation disagree"
        else:
            chosen = self.evaluator.pick(event, current, rank, view)
        warnings = view.warnings()
        if chosen is None:
            return FireResult(current, None, None, trace, warnings)
        target = view.target(chosen)[0]
        assert target is not None  # pick never returns a transition without a target
        changed = chosen.id if target != current else None
        return FireResult(target, changed, chosen.id, trace, warnings)

    def _guard_record(
        self, record: Mapping[str, Any], customer: Customer, opportunities: Sequence[Opportunity]
    ) -> Mapping[str, Any]:
        opened = won = lost = 0
        for o in opportunities:
            outcome = self._opp_outcome.get(o.status)
            if outcome == "won":
                won += 1
            elif outcome == "lost":
                lost += 1
            else:
                opened += 1
        guard_record = dict(record)
        guard_record["customer"] = customer_view(
            customer, self._stage_of.get(customer.status), (opened, won, lost)
        )
        return guard_record

    def _follow(self, opportunities: Sequence[Opportunity]) -> tuple[str | None, int]:
        target = follow_target(
            opportunities, self._opp_open, self._opp_map, self._defaults.prospect_with_opportunity
        )
        return target, (self._rank_of.get(target, -1) if target else -1)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    if _blank(value):
        return None
    return str(value).strip()


def _fold_index(items: Mapping[str, Any]) -> dict[str, str | None]:
    """Folded id -> id, or None where two ids fold alike (then only exact ids match)."""
    out: dict[str, str | None] = {}
    for key in items:
        folded = key.strip().casefold()
        out[folded] = None if folded in out else key
    return out


def _resolve(
    raw: Any,
    items: Mapping[str, Any],
    folded: Mapping[str, str | None],
    fold: bool,
    code: str,
    field: str,
) -> str:
    text = str(raw)
    if text in items:
        return text
    if fold:
        hit = folded.get(text.strip().casefold())
        if hit is not None:
            return hit
    kind = "opportunity status" if code == "unknown-opportunity-status" else "status"
    raise RecordError(code, f"unknown {kind} {text!r}{did_you_mean(text, items)}", field=field)


def _probability(raw: Any) -> float | int | None:
    """A record's own probability, or None when absent; ``bad-probability`` if unreadable."""
    if _blank(raw):
        return None
    value: float | int
    if isinstance(raw, bool):
        value = -1  # a boolean is not a probability
    elif isinstance(raw, (int, float)):
        value = raw
    else:
        text = str(raw).strip().removesuffix("%").strip()
        try:
            value = float(text)
        except ValueError:
            raise RecordError(
                "bad-probability", f"probability {raw!r} is not a number", field="probability"
            ) from None
        if value.is_integer():
            value = int(value)
    if not 0 <= value <= 100 or value != value:
        raise RecordError(
            "bad-probability", f"probability {raw!r} is outside 0-100", field="probability"
        )
    return value
