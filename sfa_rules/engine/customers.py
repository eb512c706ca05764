"""Customer rows (leads, prospects, customers; SPEC §4, §6, §19): the status of a new or
known customer, and its owner (kept, known, a matched account's, or assigned through
overrides and territories); a duplicate lead flagged, merged or refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.values import blank, text
from sfa_rules.engine.context import (
    ALREADY_APPLIED,
    APPLIED,
    RowContext,
    falsy,
    required,
    truthy,
)
from sfa_rules.engine.decision import Decision
from sfa_rules.entities import Customer
from sfa_rules.lifecycle.transitions import customer_view
from sfa_rules.routing.assignment import RotationStore, record_day

__all__ = ["CUSTOMER_TYPES", "customer_row"]

CUSTOMER_TYPES = frozenset({"lead", "prospect", "customer"})

Trace = list[dict[str, Any]]
_NOBODY = Customer("", "")  # a new customer's "before": no owner, no facts


class _Status(NamedTuple):
    status: str
    previous: str | None  # the known customer's status before the row
    transition: str | None  # the manual change's, when the row changed the status
    replay: str | None  # the row's fingerprint, when it names a status
    locked: bool  # owner_locked, from the row or the known customer


class _Owner(NamedTuple):
    owner: str | None
    territory: str | None
    assigned_by: str | None
    account: str | None = None  # the known customer a new lead matched (SPEC §19)


class _Released:
    """A store as assignment reads it while a known open record is assigned again
    (``--reassign``): the rep who holds it has one open record fewer, so that the record
    does not count against its own owner's capacity."""

    def __init__(self, store: RotationStore, owner: str) -> None:
        self._store, self._owner = store, owner

    def get_rotation(self, tid: str) -> dict[str, Any] | None:
        return self._store.get_rotation(tid)

    def set_rotation(self, tid: str, state: dict[str, Any]) -> None:
        self._store.set_rotation(tid, state)

    def open_count(self, rep: str) -> int:
        count = self._store.open_count(rep)
        return count - 1 if rep == self._owner else count


def customer_row(
    ctx: RowContext, source: str | None, row: int | None, rtype: str, record: Mapping[str, Any]
) -> Decision:
    """Decide a lead, prospect or customer row, and save the customer."""
    rules = ctx.rules
    lifecycle = rules.lifecycle
    cid = required(record, "id")
    facts = rules.ctx.facts(record)
    warnings = list(facts.warnings)
    trace: Trace | None = [] if ctx.explain else None
    existing = ctx.store.get_customer(cid)
    cid, existing, merged_from = _duplicates(ctx, rtype, cid, record, existing, warnings, trace)
    if existing is not None and blank(record.get("status")):  # a status given: its repair
        lifecycle.check_known(existing)
    st = _status(ctx, rtype, cid, record, existing, warnings)
    who = _owner(ctx, rtype, record, facts, existing, st.locked, warnings, trace)
    fields = {k: record[k] for k in rules.guard_fields if k in record}
    customer = _with_facts(ctx, record, existing, cid, st, who, fields)
    ctx.save(existing, customer)
    if st.replay is not None:
        ctx.store.mark_seen(APPLIED, st.replay)
    return Decision(
        source, row, rtype, cid,
        owner=who.owner, territory=who.territory, assigned_by=who.assigned_by,
        status=st.status, stage=lifecycle.stage(st.status),
        probability=lifecycle.probability(st.status),
        previous_status=st.previous if st.transition else None,
        transition=st.transition, warnings=tuple(warnings),
        trace=tuple(trace) if trace is not None else None,
        account=who.account, merged_from=merged_from,
    )


def _with_facts(
    ctx: RowContext, record: Mapping[str, Any], existing: Customer | None, cid: str,
    st: _Status, who: _Owner, fields: dict[str, Any],
) -> Customer:
    """The customer after the row: its new status and owner with the known customer's
    facts (SPEC §18), its clocks restarted by a new owner or status, each change a line
    of its history."""
    old = existing if existing is not None else _NOBODY
    assigned = who.owner != old.owner
    entered = existing is None or st.status != old.status
    if not assigned and not entered:  # a known customer (a new one always entered)
        return Customer(
            cid, st.status, who.owner, who.territory, st.locked, fields,
            old.assigned_on, old.status_on, old.last_activity, old.activities, old.contacts)
    day = None if ctx.alone else ctx.day(record)  # a record decided alone: nobody reads its clocks
    if entered:
        ctx.history(cid, day, "status", {
            "from": existing.status if existing is not None else None, "to": st.status,
            "event": None})
    if assigned:
        ctx.history(cid, day, "assignment",
                    {"owner": who.owner, "territory": who.territory, "how": who.assigned_by})
    return Customer(
        cid, st.status, who.owner, who.territory, st.locked, fields,
        day if assigned else old.assigned_on, day if entered else old.status_on,
        old.last_activity, old.activities, old.contacts)


def _duplicates(
    ctx: RowContext, rtype: str, cid: str, record: Mapping[str, Any],
    existing: Customer | None, warnings: list[str], trace: Trace | None,
) -> tuple[str, Customer | None, str | None]:
    """A lead row's duplicate check (SPEC §19): the id it is decided under, that
    record, and the row's own id when it is merged into a known record."""
    matcher = ctx.matcher
    if matcher is None or rtype != "lead":
        return cid, existing, None
    screened = matcher.screen(cid, record, existing is not None, ctx.store)
    warnings.extend(screened.warnings)
    if trace is not None and screened.trace:
        trace.append(screened.trace)
    if screened.merge_into is None:
        return cid, existing, None
    return screened.merge_into, ctx.store.get_customer(screened.merge_into), cid


def _status(
    ctx: RowContext, rtype: str, cid: str, record: Mapping[str, Any],
    existing: Customer | None, warnings: list[str],
) -> _Status:
    """A new customer's status; a known one's, changed when the row names a status."""
    lifecycle = ctx.rules.lifecycle
    given_status = record.get("status")
    given_lock = record.get("owner_locked")
    locked = truthy(given_lock)
    # A row that names a status is a manual change when the record is known: the
    # same row applied again must not undo what happened since (SPEC §9).
    replay = None if blank(given_status) else ctx.fingerprint(rtype, cid)
    if existing is None:
        status, status_warnings = lifecycle.new_customer(rtype, given_status)
        warnings.extend(status_warnings)
        return _Status(status, None, None, replay, locked)
    status, transition = existing.status, None
    if replay is not None and ctx.store.seen(APPLIED, replay):
        warnings.append(ALREADY_APPLIED)
    elif replay is not None:
        status, transition = lifecycle.manual_change(existing, given_status)
    # a row that says owner_locked: false unlocks; true locks; anything else keeps it
    kept = locked or (existing.owner_locked and not falsy(given_lock))
    return _Status(status, existing.status, transition, replay, kept)


def _routing_facts(ctx: RowContext, record: Mapping[str, Any], existing: Customer | None) -> Facts:
    """The row's facts with the ``customer`` the routing criteria name (SPEC §18): the
    known customer as the state has it before the row, activity facts as of the row's
    date; a new one has no id, status, activity, contact or opportunity yet."""
    rules, day = ctx.rules, ctx.day(record)
    if existing is None:
        view = customer_view(_NOBODY, None, (0, 0, 0), rules.activity_kinds, day)
        view["id"] = view["status"] = None
    else:
        view = customer_view(existing, rules.lifecycle.stage(existing.status),
                             ctx.portfolios.of(existing.id).counts(), rules.activity_kinds, day)
    return rules.ctx.facts({**record, "customer": view})


def _owner(
    ctx: RowContext, rtype: str, record: Mapping[str, Any], facts: Facts,
    existing: Customer | None, locked: bool, warnings: list[str], trace: Trace | None,
) -> _Owner:
    """A known customer keeps its owner (unless reassigned and not locked), none
    included unless its row brings one; else a new lead matching a known customer
    takes its owner (unless it keeps its own); else the assigner picks one for the
    types it assigns; else the row's own owner is kept."""
    rules = ctx.rules
    if existing is not None and not (ctx.reassign and not locked) and (
            existing.owner is not None or blank(record.get("owner"))):
        # SPEC §5, §9: the assignment is not redone, so the same input applied again
        # changes no owner (one left without, a rep at capacity then, stays so)
        if trace is not None:
            trace.append({"step": "known", "owner": existing.owner,
                          "territory": existing.territory})
        return _Owner(existing.owner, existing.territory,
                      "known" if existing.owner is not None else None)
    if rules.assigner.applies(rtype):
        matched = None
        if ctx.matcher is not None and existing is None and rtype == "lead":  # SPEC §19
            matched = ctx.matcher.account(record, facts.original.get("owner"), ctx.store, trace)
        if matched is not None:
            reason = _cannot_take(ctx, matched.owner, facts)
            if reason is None:
                return _Owner(matched.owner, matched.territory, f"account:{matched.customer}",
                              matched.customer)
            # SPEC §4: an inactive rep never receives records, nor one away or full
            warnings.append(f"skipped-members: account {matched.customer}: {matched.owner} {reason}")
            if trace and trace[-1].get("step") == "account":  # the match's own step
                trace[-1].update(result="skipped",
                                 skipped=[{"rep": matched.owner, "reason": reason}])
        if rules.routing_reads_customer:
            facts = _routing_facts(ctx, record, existing)
        store: RotationStore = ctx.store
        if existing is not None and existing.owner is not None \
                and rules.lifecycle.is_open(existing.status):  # --reassign: not against itself
            store = _Released(store, existing.owner)
        picked = rules.assigner.assign(facts, record, store, ctx.as_of, ctx.explain)
        # a criteria regex that timed out warns as the facts are matched
        warnings.extend(w for w in facts.warnings if w not in warnings)
        warnings.extend(picked.skipped)
        ctx.notice(picked.notices)
        if trace is not None and picked.trace:
            trace.extend(picked.trace)
        return _Owner(picked.owner, picked.territory, picked.assigned_by)
    owner = text(record.get("owner"))
    return _Owner(owner, None, "kept" if owner else None)


def _cannot_take(ctx: RowContext, owner: str | None, facts: Facts) -> str | None:
    """Why a matched account's owner, a configured rep, cannot take the lead on its date
    (sells: false, inactive, away, at capacity); None when it can. An owner the configuration does
    not list (an export's) is kept: nothing says it cannot."""
    assigner = ctx.rules.assigner
    if owner is None or owner not in assigner.reps:
        return None
    if not ctx.rules.hierarchy.sells(owner):  # SPEC §17: a manager, never a record's owner
        return "takes no records (sells: false)"
    return assigner.why_not(owner, record_day(facts, ctx.as_of), ctx.store.open_count)
