"""Lifecycle transitions compiled once at load, and the built-in evaluator (SPEC §6, §13).

``compile_transitions`` turns ``lifecycle.transitions`` into plain tuples: per
transition its events, the set of statuses its ``from`` admits, its target (a fixed
status with its stage rank, or "follow the most advanced open opportunity") and its
compiled guard. An evaluator picks the first transition, in file order, that matches
an event; ``NativeTransitions`` does it with a per-event candidate list,
``lifecycle_durable.DurableTransitions`` on durable-rules' Rete engine. Both read the
per-event facts through a ``GuardView`` so that guard predicates (and the follow
target) are evaluated by the same compiled code, and so decide identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sfa_rules.config.eventchecks import kind_of, named_event
from sfa_rules.config.models import Config
from sfa_rules.config.order import STAGE_RANK
from sfa_rules.entities import Customer
from sfa_rules.lifecycle.views import LazyGuards

Guard = Callable[[Any], bool]


class Predicate(Protocol):
    """What ``criteria.compile`` returns (ARCHITECTURE.md: criteria)."""

    def __call__(self, facts: Any) -> bool: ...

    def explain(self, facts: Any, schema: Any = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class CompiledTransition:
    """One transition as plain data: nothing in it is walked per record."""

    index: int  # position in file order (durable-rules priority = index + 1)
    id: str
    events: frozenset[str]  # after the feature switches: may be empty
    disabled_events: frozenset[str]  # events dropped because their feature is off
    from_statuses: frozenset[str] | None  # None: any status
    from_stages: tuple[str, ...] | None  # as written, for durable-rules and traces
    from_status_ids: tuple[str, ...] | None  # as written
    target: str | None  # fixed target status id; None with follow or an unset slot
    target_rank: int  # stage rank of the fixed target (-1: no target)
    follow: bool  # {follow: opportunity}
    unset_slot: str | None  # `{default: slot}` whose slot is not configured
    guard: Predicate | None


class GuardView(LazyGuards):
    """The facts of one event, evaluated lazily and at most once each.

    ``guard(t)`` is transition ``t``'s guard over the event record with the customer
    mapping; ``follow()`` the follow target (status id, stage rank). Both evaluators
    read only this, so their decisions cannot drift apart.
    """

    __slots__ = ("_follow", "_follow_fn")

    def __init__(
        self,
        facts_fn: Callable[[], Any],
        follow_fn: Callable[[], tuple[str | None, int]],
    ) -> None:
        # Both are thunks: most events are decided by `on` and `from` alone, and
        # building the guard record (customer view, opportunity counts) costs more.
        super().__init__(facts_fn)
        self._follow_fn = follow_fn
        self._follow: tuple[str | None, int] | None = None

    def warnings(self) -> tuple[str, ...]:
        """The facts' warnings (values a numeric or date guard could not read)."""
        return tuple(getattr(self._facts, "warnings", ())) if self._facts is not None else ()

    def guard(self, t: CompiledTransition) -> bool:
        """Whether ``t``'s guard holds (True without a guard)."""
        return t.guard is None or self.held(t.index, t.guard)

    def follow(self) -> tuple[str | None, int]:
        """The status a prospect follows to, and its stage rank (-1: none)."""
        if self._follow is None:
            self._follow = self._follow_fn()
        return self._follow

    def target(self, t: CompiledTransition) -> tuple[str | None, int]:
        """``t``'s target status for this event and its stage rank."""
        return self.follow() if t.follow else (t.target, t.target_rank)


class TransitionEvaluator(Protocol):
    """Picks the first transition (file order) matching an event on a status."""

    name: str  # "native" | "durable"

    def pick(self, event: str, status: str, rank: int, view: GuardView) -> CompiledTransition | None:
        """The transition that fires, or None."""
        ...

    def close(self) -> None:
        """Free what the evaluator holds (durable-rules: its ruleset)."""
        ...


def compile_transitions(
    config: Config, compile_guard: Callable[[Mapping[str, Any], tuple[Any, ...]], Predicate]
) -> tuple[CompiledTransition, ...]:
    """Every transition of ``config`` as a ``CompiledTransition``, in file order."""
    statuses = {s.id: s for s in config.statuses}
    defaults = config.lifecycle.defaults
    off: set[str] = set()
    if not config.settings.opportunities:
        off |= {e for e in _all_events(config) if e.startswith("opportunity.")}
    if not config.settings.estimates:
        off.add("estimate.created")
    out, of = [], kind_of(config)
    for i, t in enumerate(config.lifecycle.transitions):
        target: str | None = None
        unset: str | None = None
        follow = False
        if isinstance(t.to, str):
            target = t.to
        elif hasattr(t.to, "follow"):
            follow = True
        else:
            slot = t.to.default
            target = getattr(defaults, slot)
            unset = None if target else slot
        rank = STAGE_RANK[statuses[target].stage] if target in statuses else -1
        stages = tuple(t.from_.stage) if t.from_ and t.from_.stage else None
        ids = tuple(t.from_.status) if t.from_ and t.from_.status else None
        admitted: frozenset[str] | None = None
        if stages is not None or ids is not None:
            admitted = frozenset(
                s.id
                for s in config.statuses
                if (stages is None or s.stage in stages) and (ids is None or s.id in ids)
            )
        guard = compile_guard(t.when, ("lifecycle", "transitions", i, "when")) if t.when else None
        events = frozenset(named_event(of, e) for e in t.on)  # activity.CALL is activity.call
        out.append(
            CompiledTransition(
                index=i,
                id=t.id,
                events=events - off,
                disabled_events=events & off,
                from_statuses=admitted,
                from_stages=stages,
                from_status_ids=ids,
                target=target,
                target_rank=rank,
                follow=follow,
                unset_slot=unset,
                guard=guard,
            )
        )
    return tuple(out)


def _all_events(config: Config) -> set[str]:
    return {e for t in config.lifecycle.transitions for e in t.on}


class NativeTransitions:
    """The built-in evaluator: per event, the candidates in file order."""

    name = "native"

    def __init__(self, transitions: Sequence[CompiledTransition]) -> None:
        by_event: dict[str, list[CompiledTransition]] = {}
        for t in transitions:
            for e in t.events:
                by_event.setdefault(e, []).append(t)
        self._by_event = {e: tuple(ts) for e, ts in by_event.items()}

    def pick(self, event: str, status: str, rank: int, view: GuardView) -> CompiledTransition | None:
        """The first candidate whose from, target stage and guard hold."""
        for t in self._by_event.get(event, ()):
            if t.from_statuses is not None and status not in t.from_statuses:
                continue
            target_rank = view.follow()[1] if t.follow else t.target_rank
            if target_rank < rank or target_rank < 0:
                continue  # never lower the stage; -1: no target (an unset slot)
            if t.guard is not None and not view.guard(t):
                continue
            return t
        return None

    def close(self) -> None:
        """Nothing to free."""


def explain_transitions(
    transitions: Sequence[CompiledTransition], event: str, status: str, rank: int, view: GuardView,
    schema: Any = None,
) -> tuple[CompiledTransition | None, list[dict[str, Any]]]:
    """The same choice as ``NativeTransitions.pick``, with why each transition failed.

    One trace entry per transition tried in file order, up to the one that fires, shaped
    like assignment's: ``{"step": "transition", "id", "matched", "why"}`` where ``why``
    is a sentence, or for a guard the failing tests ``{field, op, expected, actual}``
    (``schema``, the criteria's ``FactSchema``, finds the values as the record wrote them).
    """
    trace: list[dict[str, Any]] = []
    for t in transitions:
        entry: dict[str, Any] = {"step": "transition", "id": t.id, "matched": False}
        trace.append(entry)
        if event not in t.events:
            if event in t.disabled_events:
                feature = "estimates" if event.startswith("estimate") else "opportunities"
                entry["why"] = f"feature off: settings.{feature} is false"
            else:
                entry["why"] = f"event {event} is not in on"
            continue
        if t.from_statuses is not None and status not in t.from_statuses:
            want = {"stage": list(t.from_stages or ()), "status": list(t.from_status_ids or ())}
            entry["why"] = f"from: status {status!r} does not match"
            entry["from"] = {k: v for k, v in want.items() if v}
            continue
        target, target_rank = view.target(t)
        if target is None or target_rank < 0:
            entry["why"] = (
                f"to: lifecycle.defaults.{t.unset_slot} is not set"
                if t.unset_slot
                else "to: no target status"
            )
            continue
        if target_rank < rank:
            entry["why"] = f"lower stage: target {target!r} is of a lower stage"
            continue
        if t.guard is not None and not view.guard(t):
            entry["why"] = t.guard.explain(view.facts, schema)  # the failing tests, as assignment's
            continue
        entry["matched"] = True
        entry["to"] = target
        return t, trace
    return None, trace


def customer_view(
    customer: Customer, stage: str | None, counts: tuple[int, int, int],
    kinds: Iterable[str] = (), day: str | None = None,
) -> dict[str, Any]:
    """The nested ``customer`` mapping a guard reads (fields, then the engine's own):
    its activity facts too (SPEC §18), ``activities`` with every kind of ``kinds``
    (0 when none) and ``days_since_activity`` as of ``day`` (None: no activity yet)."""
    view = dict(customer.fields)
    last = customer.last_activity
    since = None
    if last is not None and day is not None:
        since = (date.fromisoformat(day) - date.fromisoformat(last)).days
    view.update(
        id=customer.id,
        status=customer.status,
        stage=stage,
        owner=customer.owner,
        territory=customer.territory,
        open_opportunities=counts[0],
        won_opportunities=counts[1],
        lost_opportunities=counts[2],
        last_activity=last,
        days_since_activity=since,
        activities={**dict.fromkeys(kinds, 0), **customer.activities},
        contacts=customer.contacts,
    )
    return view
