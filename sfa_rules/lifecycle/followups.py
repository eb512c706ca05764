"""Follow-up rules compiled once at load, and the built-in evaluator (SPEC §18, §13).

``compile_follow_ups`` turns ``follow_ups:`` into plain tuples. For one customer and
one as-of date a :class:`FollowUpView` answers, lazily and at most once each, what a
follow-up depends on: the day its clock started, the first day it is due, whether it
already fired for that clock start, whether its ``when`` holds and whether an activity
satisfied it. An evaluator picks the follow-ups that are due from those answers:
``NativeFollowUps`` in file order, ``lifecycle.durable.DurableFollowUps`` on
durable-rules' Rete engine. Both read the same view, so they decide identically.

The window (SPEC §18): ``N days`` of D ends on D + N; ``N business days`` counts
Monday to Friday only. A follow-up is due from the day after the window's last day,
unless an activity of its kinds happened from D to that last day. For the
``last_activity`` clock no activity can satisfy it: a later activity is the new last
activity and starts the clock again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sfa_rules.config.eventchecks import kind_of
from sfa_rules.config.followups import RepTarget, action_of, parse_within
from sfa_rules.config.models import Config
from sfa_rules.entities import Customer
from sfa_rules.lifecycle.views import LazyGuards

__all__ = [
    "CompiledFollowUp", "FollowUpEvaluator", "FollowUpView", "NativeFollowUps",
    "compile_follow_ups", "first_due",
]

Guard = Callable[[Any], bool]
# A follow-up's `when` split in two: the statuses its tests of status and stage admit
# (None: any), and a guard over the rest (None: nothing else to test).
Split = Callable[[int], tuple[frozenset[str] | None, Guard | None]]
Activities = Callable[[str], Iterable[tuple[str | None, str]]]  # customer -> (date, kind)


@dataclass(frozen=True, slots=True)
class CompiledFollowUp:
    """One follow-up as plain data: nothing in it is walked per customer."""

    index: int  # position in file order (durable-rules priority = index + 1)
    id: str
    clock: str  # assigned | status_changed | last_activity
    days: int
    business: bool
    kinds: frozenset[str] | None  # None: any kind satisfies it
    statuses: frozenset[str] | None  # the customer's status must be one (None: any)
    guard: Guard | None  # the rest of `when`, over the customer's facts
    action: Mapping[str, Any]  # the `then` mapping as written
    reassign: str | None  # next_in_territory | manager | rep
    rep: str | None  # with reassign == "rep"
    status: str | None
    alert: str | None  # owner | manager


def compile_follow_ups(
    config: Config, split: Split
) -> tuple[CompiledFollowUp, ...]:
    """Every follow-up of ``config`` as a ``CompiledFollowUp``, in file order; ``split``
    compiles the `when` of the follow-up at an index."""
    out, of = [], kind_of(config)  # a kind as rows name it, whatever its case here
    for i, f in enumerate(config.follow_ups):
        within = parse_within(f.within)
        then = f.then
        reassign = then.reassign
        out.append(CompiledFollowUp(
            index=i, id=f.id, clock=f.of, days=within.days, business=within.business,
            kinds=frozenset(of(k) or k for k in f.activity) if f.activity is not None else None,
            statuses=split(i)[0], guard=split(i)[1],
            action=action_of(then),
            reassign="rep" if isinstance(reassign, RepTarget) else reassign,
            rep=reassign.rep if isinstance(reassign, RepTarget) else None,
            status=then.status, alert=then.alert,
        ))
    return tuple(out)


@lru_cache(maxsize=65_536)
def window_end(start: str, days: int, business: bool) -> str:
    """The window's last day: ``start`` plus ``days`` calendar or business days."""
    day = date.fromisoformat(start)
    if not business:
        return (day + timedelta(days=days)).isoformat()
    if days == 0:
        return start
    if day.weekday() >= 5:  # from a weekend as from its Friday: the next one is Monday
        day -= timedelta(days=day.weekday() - 4)
    weeks, rest = divmod(days, 5)
    day += timedelta(weeks=weeks)  # from a weekday, five business days are a week
    for _ in range(rest):
        day += timedelta(days=3 if day.weekday() == 4 else 1)
    return day.isoformat()


@lru_cache(maxsize=65_536)
def first_due(start: str, days: int, business: bool) -> str:
    """The first day a follow-up whose clock started on ``start`` is due."""
    return (date.fromisoformat(window_end(start, days, business)) + timedelta(days=1)).isoformat()


def clock_start(f: CompiledFollowUp, customer: Customer) -> str | None:
    """The day ``f``'s clock started for ``customer`` (None: it has not started)."""
    if f.clock == "assigned":
        return customer.assigned_on if customer.owner is not None else None
    if f.clock == "status_changed":
        return customer.status_on
    if customer.owner is None and customer.last_activity is None:
        return None
    return customer.last_activity or customer.assigned_on


class FollowUpView(LazyGuards):
    """What the follow-ups depend on for one customer as of one day, each answer
    computed at most once. ``facts`` builds the criteria view of the customer,
    ``fired`` says whether a follow-up fired already for a clock start, ``activities``
    lists a customer's activities (only asked when the customer's last activity alone
    cannot tell)."""

    __slots__ = ("_activities", "_fired", "as_of", "customer")

    def __init__(self, customer: Customer, as_of: str, facts_fn: Callable[[], Any],
                 fired: Callable[[CompiledFollowUp, str], bool], activities: Activities) -> None:
        super().__init__(facts_fn)
        self.customer = customer
        self.as_of = as_of
        self._fired = fired
        self._activities = activities

    def start(self, f: CompiledFollowUp) -> str | None:
        """The day ``f``'s clock started."""
        return clock_start(f, self.customer)

    def due_from(self, f: CompiledFollowUp) -> str | None:
        """The first day ``f`` is due for this customer (None: no clock yet)."""
        start = clock_start(f, self.customer)
        return first_due(start, f.days, f.business) if start is not None else None

    def late(self, f: CompiledFollowUp) -> bool:
        """Its clock started and the window is over as of the view's day."""
        due = self.due_from(f)
        return due is not None and due <= self.as_of

    def fired(self, f: CompiledFollowUp) -> bool:
        """Did ``f`` fire already for the current clock start?"""
        start = clock_start(f, self.customer)
        return start is not None and self._fired(f, start)

    def guard(self, f: CompiledFollowUp) -> bool:
        """Whether ``f``'s ``when`` holds (True without one)."""
        if f.statuses is not None and self.customer.status not in f.statuses:
            return False
        return f.guard is None or self.held(f.index, f.guard)

    def satisfied(self, f: CompiledFollowUp) -> bool:
        """Did an activity of ``f``'s kinds happen from the clock start to the window's
        last day?"""
        start = clock_start(f, self.customer)
        last = self.customer.last_activity
        if f.clock == "last_activity" or start is None or last is None or last < start:
            return False
        end = window_end(start, f.days, f.business)
        if f.kinds is None and last <= end:
            return True
        return any(d is not None and start <= d <= end and (f.kinds is None or k in f.kinds)
                   for d, k in self._activities(self.customer.id))


class FollowUpEvaluator(Protocol):
    """Picks the follow-ups due for one customer, in file order."""

    name: str  # "native" | "durable"

    def due(self, view: FollowUpView) -> list[CompiledFollowUp]:
        """The follow-ups due, in file order."""
        ...

    def close(self) -> None:
        """Free what the evaluator holds (durable-rules: its ruleset)."""
        ...


class NativeFollowUps:
    """The built-in evaluator: every follow-up in file order, cheapest test first."""

    name = "native"

    def __init__(self, follow_ups: Sequence[CompiledFollowUp]) -> None:
        self._follow_ups = tuple(follow_ups)

    def due(self, view: FollowUpView) -> list[CompiledFollowUp]:
        """The follow-ups whose window is over, whose ``when`` holds, that no activity
        satisfied and that did not fire yet."""
        return [f for f in self._follow_ups
                if view.late(f) and view.guard(f) and not view.satisfied(f)
                and not view.fired(f)]

    def close(self) -> None:
        """Nothing to free."""
