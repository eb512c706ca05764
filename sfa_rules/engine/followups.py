"""Follow-ups over a state (SPEC §18): what is due as of a day, and carrying it out.

``FollowUps(rules)`` compiles the configuration's ``follow_ups:`` for the lifecycle
engine the rules run (native, or durable-rules where it imports). ``due(store, as_of)``
lists what is due without writing anything; ``carry_out`` does it, one decision row
of type ``follow_up`` per action, each written like a row of ``apply``: the customer
with its clocks restarted and its rep's open-record count in step, a line of its
history, and a mark that the follow-up fired for that clock start, so that running it
again for the same day changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import date
from typing import Any, NamedTuple

from sfa_rules.criteria.nodes import All, Test
from sfa_rules.criteria.predicates import compile as compile_criteria
from sfa_rules.engine.context import RowContext
from sfa_rules.engine.decision import FOLLOW_UP, Decision
from sfa_rules.engine.rules import Rules
from sfa_rules.entities import Customer
from sfa_rules.errors import EngineUnavailable
from sfa_rules.lifecycle.followups import (
    CompiledFollowUp,
    FollowUpEvaluator,
    FollowUpView,
    NativeFollowUps,
    compile_follow_ups,
)
from sfa_rules.lifecycle.transitions import customer_view
from sfa_rules.state import Store

__all__ = ["FIRED", "Due", "FollowUps"]

FIRED = "follow_up"  # the store's `seen` kind: a follow-up fired for a clock start


class Due(NamedTuple):
    """One follow-up due for one customer (``sfa due``'s row)."""

    customer: str
    follow_up: str
    owner: str | None
    clock_start: str
    due: str  # the first day it was due
    days_overdue: int
    action: dict[str, Any]  # the `then` mapping as written

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: SPEC §18's keys, in order."""
        return self._asdict()


class FollowUps:
    """The follow-ups of one configuration; ``close()`` frees the evaluator."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        ctx = rules.ctx
        self.compiled = compile_follow_ups(rules.config, _Split(rules))
        self.evaluator: FollowUpEvaluator = NativeFollowUps(self.compiled)
        if rules.lifecycle_engine == "durable" and self.compiled:
            from sfa_rules.lifecycle import durable

            with suppress(EngineUnavailable):  # more than its C core holds: native
                self.evaluator = durable.DurableFollowUps(self.compiled)
        self.notices: list[str] = []  # what carrying out says once (a rotation restarted)
        refs = [ctx.field(name) for name, path in ctx.field_refs if path[0] == "follow_ups"]
        # Opportunity counts cost a query per customer: only when some `when` reads them.
        self._counts = any(f.endswith("_opportunities") for f in refs)
        # the statuses some follow-up can match: the store reads only those customers
        self.statuses = None if any(f.statuses is None for f in self.compiled) else \
            frozenset().union(*(f.statuses for f in self.compiled if f.statuses is not None))

    def close(self) -> None:
        """Free the evaluator (durable-rules: delete its ruleset)."""
        self.evaluator.close()

    def __enter__(self) -> FollowUps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what is due ---------------------------------------------------------------

    def view(self, customer: Customer, store: Store, as_of: str) -> FollowUpView:
        """What the follow-ups read of ``customer`` as of ``as_of``."""
        lifecycle = self.rules.lifecycle

        def facts() -> Any:
            counts = (lifecycle.portfolio(store.opportunities_of(customer.id)).counts()
                      if self._counts else (0, 0, 0))
            record = customer_view(customer, lifecycle.stage(customer.status), counts,
                                   self.rules.activity_kinds, as_of)
            return self.rules.ctx.facts(record)

        def fired(f: CompiledFollowUp, start: str) -> bool:
            return store.seen(FIRED, fired_key(customer.id, f, start))

        def activities(cid: str) -> list[tuple[str | None, str]]:
            return [(e.date, str(e.detail.get("kind"))) for e in store.history_of(cid)
                    if e.kind == "activity"]

        return FollowUpView(customer, as_of, facts, fired, activities)

    def due_for(self, customer: Customer, store: Store, as_of: str) -> list[Due]:
        """The follow-ups due for one customer, in file order."""
        if not self.compiled:
            return []
        view = self.view(customer, store, as_of)
        out = []
        for f in self.evaluator.due(view):
            start, first = view.start(f), view.due_from(f)
            assert start is not None and first is not None  # due: its clock started
            late = (date.fromisoformat(as_of) - date.fromisoformat(first)).days
            out.append(Due(customer.id, f.id, customer.owner, start, first, late,
                           dict(f.action)))
        return out

    def due(self, store: Store, as_of: str) -> list[Due]:
        """Everything due as of ``as_of``, by customer id then file order."""
        return [d for _, due in self._pending(store, as_of) for d in due]

    def _pending(self, store: Store, as_of: str) -> list[tuple[Customer, list[Due]]]:
        """Each customer with something due, by id, with what is due in file order."""
        if not self.compiled:
            return []
        found = [(c, due) for c in store.customers(self.statuses)
                 if (due := self.due_for(c, store, as_of))]
        found.sort(key=lambda pair: pair[0].id)  # the stores' order already: a safeguard
        return found

    # -- carrying it out ------------------------------------------------------------

    def carry_out(self, store: Store, as_of: str) -> Iterator[Decision]:
        """Carry out every follow-up due as of ``as_of``, one decision per action, in
        customer order; a customer's follow-ups are tried again after each action
        (a new owner or status restarts their clocks)."""
        ctx = RowContext(self.rules, store, as_of=as_of, reassign=False, explain=False)
        ctx.notices = self.notices
        by_id = {f.id: f for f in self.compiled}
        number = 0
        for customer, due in self._pending(store, as_of):
            # an action changes only its own customer: the others' lists stay true
            for _ in self.compiled:  # each action marks one follow-up fired: bounded
                number += 1
                f = by_id[due[0].follow_up]
                ctx.source, ctx.row = f"follow-up:{f.id}", None
                decision = _Act(self.rules, ctx, f, customer, as_of).run()
                store.mark_seen(FIRED, fired_key(customer.id, f, due[0].clock_start))
                yield decision._replace(row=number)
                after = store.get_customer(customer.id)
                due = self.due_for(after, store, as_of) if after is not None else []
                if after is None or not due:
                    break
                customer = after


class _Split:
    """Each follow-up's `when` split in two (``lifecycle.followups.Split``): its tests of
    `status` and `stage` at the top, tried once on every configured status (so they
    mean exactly what they mean on a customer), and a guard over the rest."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        ctx = rules.ctx
        self._own = {ctx.field("status"), ctx.field("stage")}
        self._facts = [(s.id, ctx.facts({"status": s.id, "stage": s.stage}))
                       for s in rules.config.statuses]

    def __call__(self, index: int) -> tuple[frozenset[str] | None, Any]:
        node = self.rules.ctx.node(("follow_ups", index, "when"))
        parts = node.nodes if isinstance(node, All) else (node,)
        own = [p for p in parts if isinstance(p, Test) and p.field in self._own]
        rest = tuple(p for p in parts if p not in own)
        tests = [compile_criteria(t) for t in own]
        statuses = frozenset(i for i, facts in self._facts
                             if all(test(facts) for test in tests)) if own else None
        return statuses, compile_criteria(All(rest)) if rest else None


def fired_key(customer: str, f: CompiledFollowUp, start: str) -> str:
    """What marks that ``f`` fired for ``customer``'s clock that started on ``start``."""
    return f"{customer}\x1f{f.id}\x1f{start}"


class _Act:
    """One follow-up's action on one customer: the changes and the decision."""

    def __init__(self, rules: Rules, ctx: RowContext, f: CompiledFollowUp,
                 customer: Customer, day: str) -> None:
        self.rules, self.ctx, self.f, self.customer, self.day = rules, ctx, f, customer, day
        self.warnings: list[str] = []

    def run(self) -> Decision:
        f, c = self.f, self.customer
        new, assigned_by, alert, transition, event = c, None, None, None, None
        if f.reassign is not None:
            owner = self._new_owner()
            if owner is not None:
                new = Customer(c.id, c.status, owner, c.territory, c.owner_locked, c.fields,
                               self.day, c.status_on, c.last_activity, c.activities,
                               c.contacts)
                self.ctx.save(c, new)
                assigned_by = f"follow-up:{f.id}"
                self.ctx.history(c.id, self.day, "assignment", {
                    "owner": owner, "territory": c.territory, "how": assigned_by})
        elif f.status is not None:
            event = f"follow_up.{f.id}"
            new = self.ctx.after_event(c, f.status, event, self.day)
            transition = f.id if new.status != c.status else None
            event = event if transition else None
        else:
            alert = self._alerted()
            self.ctx.history(c.id, self.day, "follow_up", {"id": f.id, "action": dict(f.action),
                                                           "alert": alert})
        lifecycle = self.rules.lifecycle
        return Decision(
            self.ctx.source, None, FOLLOW_UP, c.id, new.owner, new.territory, assigned_by,
            new.status, lifecycle.stage(new.status), lifecycle.probability(new.status),
            c.status if transition else None, transition, event, tuple(self.warnings),
            alert=alert,
        )

    def _warn(self, code: str, message: str) -> None:
        self.warnings.append(f"{code}: follow-up {self.f.id}: {message}; nothing changed")

    def _manager(self) -> str | None:
        owner = self.customer.owner
        managers = self.rules.hierarchy.managers(owner) if owner is not None else ()
        if not managers:
            self._warn("no-manager", f"owner {owner!r} has no manager")
            return None
        return managers[0]

    def _new_owner(self) -> str | None:
        f, c, assigner = self.f, self.customer, self.rules.assigner
        if f.reassign == "next_in_territory":
            if c.territory is None or c.territory not in assigner.index.by_id:
                self._warn("no-territory", f"customer {c.id!r} has no territory of this "
                           "configuration")
                return None
            notices: list[str] = []
            owner = assigner.next_other(c.territory, self.ctx.store, self.day, c.owner, notices)
            self.ctx.notice(notices)
            if owner is None:
                self._warn("no-eligible-member", f"territory {c.territory!r} has no "
                           f"eligible member other than {c.owner!r}")
            return owner
        owner = self._manager() if f.reassign == "manager" else f.rep
        if owner is None:
            return None
        hierarchy = self.rules.hierarchy
        why = "one who takes no records (sells: false)" if owner in hierarchy.reps and not \
            hierarchy.sells(owner) else assigner.why_not(owner, self.day, self.ctx.store.open_count)
        if why is not None:
            self._warn("ineligible-rep", f"rep {owner!r} is {why}")
            return None
        if owner == c.owner:
            self._warn("same-owner", f"rep {owner!r} owns it already")
            return None
        return owner

    def _alerted(self) -> str | None:
        if self.f.alert == "manager":
            return self._manager()
        if self.customer.owner is None:
            self._warn("no-owner", f"customer {self.customer.id!r} has no owner")
        return self.customer.owner
