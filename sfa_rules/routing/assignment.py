"""Assignment: kept owners, overrides, territories and their distribution (SPEC §4, §5).

``Assigner(config, index)`` compiles the reps, overrides and territory members once.
``assign`` picks an owner for one record: a kept owner; else the first override that
matches and has an eligible rep (or territory member); else the matching territories
in try order, each through its distribution over its eligible members; else the
default territory; else ``assignment.default_owner``; else nobody. Rotation state and
loads live in the store (``get_rotation`` / ``set_rotation`` / ``open_count``).

Choices where SPEC §4-§5 is silent:

- the ``territory`` of a record owned through an override to a rep, the default owner,
  or nobody is its first matching territory (for reporting, as for kept owners);
- an override to a territory ignores that territory's criteria, ``active`` and
  ``effective`` (it is an explicit routing), but not its members' eligibility;
- the record's date is its ``created`` field (ISO), else the run's as-of date, else
  today; it decides away periods and ``effective`` windows alike;
- a rotation state is ``{"sig": members*weights, "last": position}`` (round robin)
  or ``{"sig", "current": [weights]}`` (weighted); least_loaded keeps none;
- with ``explain`` the trace lists every territory in try order up to the one that
  gave an owner (inactive and out-of-window ones say so), not only index candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sfa_rules.config.models import Config, Rep
from sfa_rules.criteria.facts import Facts, FactSchema
from sfa_rules.criteria.predicates import compile
from sfa_rules.routing.distribution import last_position, least_loaded, restart_reason, weighted
from sfa_rules.routing.territories import CompiledTerritory, DateLike, TerritoryIndex, iso_day

Trace = list[dict[str, Any]]


class RotationStore(Protocol):
    """The part of the state store that assignment reads and writes."""

    def get_rotation(self, tid: str) -> dict[str, Any] | None: ...

    def set_rotation(self, tid: str, state: dict[str, Any]) -> None: ...

    def open_count(self, rep: str) -> int: ...


class Assignment(NamedTuple):
    """The outcome for one record: ``assigned_by`` is ``override:<id>``,
    ``territory:<id>``, ``default``, ``kept`` or None (no owner). (A named tuple:
    immutable, and built once per record at tuple speed.)"""

    owner: str | None
    territory: str | None
    assigned_by: str | None
    trace: Trace | None = None
    notices: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # overrides and territories passed over: who and why


@dataclass(frozen=True, slots=True)
class _Rep:
    id: str
    active: bool
    away: tuple[tuple[str | None, str | None], ...]
    max_open: int | None


def _rep(rep: Rep) -> _Rep:
    away = tuple(
        (w.from_.isoformat() if w.from_ else None, w.to.isoformat() if w.to else None)
        for w in rep.away
    )
    return _Rep(rep.id, rep.active, away, rep.capacity.max_open if rep.capacity else None)


def record_day(facts: Facts, as_of: DateLike = None) -> str:
    """The record's date: its ``created`` field, else the run's as-of date, else today."""
    return facts.date.get("created") or iso_day(as_of)


def signature(t: CompiledTerritory) -> str:
    """What a rotation depends on: the members and their weights, in order."""
    return ",".join(f"{rep}*{weight}" for rep, weight in t.members)


class Assigner:
    """Owner picking for one configuration (compiled once)."""

    def __init__(self, config: Config, index: TerritoryIndex) -> None:
        self.index = index
        ctx = index.ctx
        self.reps = {r.id: _rep(r) for r in reversed(config.reps)}
        # Reps no date or load can make ineligible: no check per record.
        self._always = frozenset(r.id for r in config.reps if r.always_eligible)
        policy = config.assignment
        self.applies_to = frozenset(policy.applies_to)
        self.keep_existing_owner = policy.keep_existing_owner
        self.overrides = tuple(
            (o.id, compile(ctx.node(("assignment", "overrides", i, "when"))),
             o.assign_to.rep, o.assign_to.territory)
            for i, o in enumerate(policy.overrides)
        )
        owner = policy.default_owner.rep if policy.default_owner else None
        rep = self.reps.get(owner) if owner else None
        self.default_owner = owner if rep is not None and rep.active else None
        self._signatures = {t.id: signature(t) for t in index.tried()}
        self._labels = {t.id: f"territory:{t.id}" for t in index.tried()}
        # Territories whose members are all always eligible: no check per pick.
        self._open_to_all = frozenset(
            t.id for t in index.tried() if all(rep in self._always for rep, _ in t.members)
        )

    def applies(self, record_type: str) -> bool:
        """Does a record of this type get an owner (``assignment.applies_to``)?"""
        return record_type in self.applies_to

    # -- eligibility ------------------------------------------------------------

    def why_not(self, rep_id: str, day: str, load: Callable[[str], int]) -> str | None:
        """Why a rep cannot take a record on ``day`` (None: eligible)."""
        if rep_id in self._always:
            return None
        rep = self.reps.get(rep_id)
        if rep is None:
            return "not a configured rep"
        if not rep.active:
            return "inactive"
        for start, end in rep.away:
            if (start is None or day >= start) and (end is None or day <= end):
                return f"away until {end}" if end else f"away from {start}"
        if rep.max_open is not None:
            count = load(rep_id)
            if count >= rep.max_open:
                return f"at capacity {count}/{rep.max_open}"
        return None

    # -- the decision -------------------------------------------------------------

    def assign(
        self,
        facts: Facts,
        record: Mapping[str, Any] | None,
        store: RotationStore,
        day: DateLike = None,
        explain: bool = False,
    ) -> Assignment:
        """Choose the owner of one record (see the module docstring for the order).

        ``day`` is the run's as-of date; the record's own ``created`` date wins over it
        for away periods and effective windows."""
        today = record_day(facts, day)
        trace: Trace | None = [] if explain else None
        kept = facts.original.get("owner") if self.keep_existing_owner else None
        if kept is not None:
            first = self.index.first_match(facts, today)
            if trace is not None:
                trace.append({"step": "kept", "owner": str(kept)})
            return Assignment(str(kept), first.id if first else None, "kept", trace)
        notices: list[str] = []
        passed: list[str] = []  # what was passed over for want of an eligible rep
        found = self._override(facts, store, today, trace, notices, passed)
        if found is not None:
            return found
        if trace is None:
            found, first_id = self._territories(facts, store, today, notices, passed)
        else:
            found, first_id = self._territories_traced(facts, store, today, trace, notices,
                                                       passed)
        if found is not None:
            return found
        if self.default_owner is not None:
            if trace is not None:
                trace.append({"step": "default_owner", "rep": self.default_owner})
            return Assignment(self.default_owner, first_id, "default", trace, tuple(notices),
                              tuple(passed))
        if trace is not None:
            trace.append({"step": "unassigned", "why": "no territory with an eligible member "
                          "and no default owner"})
        return Assignment(None, first_id, None, trace, tuple(notices), tuple(passed))

    def _override(
        self, facts: Facts, store: RotationStore, today: str, trace: Trace | None,
        notices: list[str], passed: list[str],
    ) -> Assignment | None:
        """The first matching override with an eligible rep (or territory member)."""
        load = store.open_count
        for oid, pred, rep_id, tid in self.overrides:
            if not pred.test(facts):
                if trace is not None:
                    trace.append({"step": "override", "id": oid, "matched": False,
                                  "why": pred.explain(facts, self.index.ctx.schema)})
                continue
            entry: dict[str, Any] = {"step": "override", "id": oid, "matched": True}
            if trace is not None:
                trace.append(entry)
            if rep_id is not None:
                reason = self.why_not(rep_id, today, load)
                if reason is None:
                    first = self.index.first_match(facts, today)
                    entry["result"] = f"assigned to {rep_id}"
                    return Assignment(rep_id, first.id if first else None, f"override:{oid}",
                                      trace, tuple(notices), tuple(passed))
                entry["result"] = "skipped"
                entry["skipped"] = [{"rep": rep_id, "reason": reason}]
                passed.append(f"skipped-members: override {oid}: {rep_id} {reason}")
                continue
            target = self.index.by_id.get(tid or "")
            owner = self._pick(target, store, today, entry, notices) if target else None
            if owner is not None and target is not None:
                return Assignment(owner, target.id, f"override:{oid}", trace, tuple(notices),
                                  tuple(passed))
            entry["result"] = "no eligible member: on to the territories"
            if target is not None:
                passed.append(self._nobody(f"override {oid}: territory {target.id}", target,
                                           today, load))
            break
        return None

    def _territories(
        self, facts: Facts, store: RotationStore, today: str, notices: list[str],
        passed: list[str],
    ) -> tuple[Assignment | None, str | None]:
        """The matching territories without a trace (the common case): the first one's
        eligible member, else the later candidates'. Also the first match's id."""
        first = self.index.first_match(facts, today)
        if first is None:
            return None, None
        owner = self._pick(first, store, today, None, notices)
        if owner is not None:
            return Assignment(owner, first.id, self._labels[first.id], None,
                              tuple(notices) if notices else (),
                              tuple(passed) if passed else ()), first.id
        load = store.open_count
        passed.append(self._nobody(f"territory {first.id}", first, today, load))
        for t in self.index.candidates(facts, today, after=first.rank):
            owner = self._pick(t, store, today, None, notices)
            if owner is not None:
                return Assignment(owner, t.id, self._labels[t.id], None, tuple(notices),
                                  tuple(passed)), first.id
            passed.append(self._nobody(f"territory {t.id}", t, today, load))
        return None, first.id

    def _territories_traced(
        self, facts: Facts, store: RotationStore, today: str, trace: Trace,
        notices: list[str], passed: list[str],
    ) -> tuple[Assignment | None, str | None]:
        """As ``_territories``, tracing every territory in try order (``--explain``)."""
        first_id: str | None = None
        load = store.open_count
        for t in self.index.tried():
            entry = _tried(t, facts, today, self.index.ctx.schema)
            trace.append(entry)
            if entry["matched"]:
                first_id = first_id or t.id
                owner = self._pick(t, store, today, entry, notices)
                if owner is not None:
                    return Assignment(owner, t.id, f"territory:{t.id}", trace, tuple(notices),
                                      tuple(passed)), first_id
                passed.append(self._nobody(f"territory {t.id}", t, today, load))
        return None, first_id

    def _nobody(self, what: str, t: CompiledTerritory, day: str, load: Callable[[str], int]) -> str:
        """``territory latam: no eligible member (pedro.silva inactive, ...)``: the
        decision says which members were skipped and why (SPEC §4)."""
        reasons = ", ".join(f"{rep} {self.why_not(rep, day, load) or 'eligible'}"
                            for rep, _ in t.members) or "no members"
        return f"skipped-members: {what}: no eligible member ({reasons})"

    # -- distribution ---------------------------------------------------------------

    def _pick(
        self,
        t: CompiledTerritory,
        store: RotationStore,
        day: str,
        entry: dict[str, Any] | None,
        notices: list[str],
        exclude: str | None = None,
    ) -> str | None:
        """Pick a member of ``t`` (never ``exclude``), advancing its rotation in the store."""
        skipped: list[dict[str, str]] | None = [] if entry is not None else None
        sig = self._signatures[t.id]
        state: dict[str, Any] | None = None
        restarted = False
        if t.distribution != "least_loaded":
            state = store.get_rotation(t.id)
            if (why := restart_reason(state, sig, t.distribution)) is not None:
                notices.append(f"rotation of territory {t.id} restarted: {why}")
                state, restarted = None, True
        owner, new_state = self._choose(t, state, day, store.open_count, skipped, exclude)
        if entry is not None:
            if skipped:
                entry["skipped"] = skipped
            entry["result"] = f"assigned to {owner}" if owner else "no eligible member"
        if owner is not None and new_state is not None:
            new_state["sig"] = sig
            store.set_rotation(t.id, new_state)
        elif restarted:  # nobody eligible: still record the restart, said once
            store.set_rotation(t.id, {"sig": sig})
        return owner

    def _choose(
        self,
        t: CompiledTerritory,
        state: dict[str, Any] | None,
        day: str,
        load: Callable[[str], int],
        skipped: list[dict[str, str]] | None,
        exclude: str | None = None,
    ) -> tuple[str | None, dict[str, Any] | None]:
        """The member chosen (never ``exclude``) and the rotation state after the pick
        (not yet stored)."""
        members = t.members
        n = len(members)
        last = last_position(state, n) if t.distribution == "round_robin" else -1
        if t.id in self._open_to_all and exclude is None:  # the pick is plain arithmetic
            if not n:
                return None, None
            if t.distribution == "round_robin":
                pos = (last + 1) % n
                return members[pos][0], {"last": pos}
            ok: Sequence[int] = range(n)
        else:
            always, why_not = self._always, self.why_not

            def eligible(i: int) -> bool:
                if members[i][0] == exclude:
                    return False
                if members[i][0] in always:
                    return True
                reason = why_not(members[i][0], day, load)
                if reason is not None and skipped is not None:
                    skipped.append({"rep": members[i][0], "reason": reason})
                return reason is None

            if t.distribution == "round_robin":
                for step in range(1, n + 1):
                    pos = (last + step) % n
                    if eligible(pos):
                        return members[pos][0], {"last": pos}
                return None, None
            ok = [i for i in range(n) if eligible(i)]
            if not ok:
                return None, None
        if t.distribution == "least_loaded":
            return least_loaded(members, ok, load), None
        return weighted(members, ok, state)

    def next_other(self, tid: str, store: RotationStore, day: str, exclude: str | None,
                   notices: list[str]) -> str | None:
        """The next eligible member of territory ``tid`` other than ``exclude``, its
        rotation advanced (SPEC §18 ``reassign: next_in_territory``); None: nobody."""
        t = self.index.by_id.get(tid)
        return self._pick(t, store, day, None, notices, exclude) if t is not None else None

    def preview(self, tid: str, n: int, store: RotationStore, day: DateLike = None) -> list[str]:
        """Who would get the next ``n`` records of territory ``tid``, without writing
        anything; each simulated pick adds one open record to its rep. Shorter than
        ``n`` when nobody is eligible."""
        t = self.index.by_id[tid]
        today = iso_day(day)
        state = store.get_rotation(tid)
        if restart_reason(state, self._signatures[tid], t.distribution) is not None:
            state = None
        extra: dict[str, int] = {}

        def load(rep: str) -> int:
            return store.open_count(rep) + extra.get(rep, 0)

        out: list[str] = []
        for _ in range(n):
            owner, new_state = self._choose(t, state, today, load, None)
            if owner is None:
                break
            out.append(owner)
            extra[owner] = extra.get(owner, 0) + 1
            state = new_state if new_state is not None else state
        return out


def _tried(t: CompiledTerritory, facts: Facts, day: str, schema: FactSchema) -> dict[str, Any]:
    """A trace entry for one territory tried: matched, or why not."""
    entry: dict[str, Any] = {"step": "territory", "id": t.id}
    if not t.active:
        return {**entry, "matched": False, "why": "inactive"}
    if not t.in_effect(day):
        window = f"{t.start or '...'} to {t.end or '...'}"
        return {**entry, "matched": False, "why": f"not in effect on {day} ({window})"}
    failures = t.predicate.explain(facts, schema)
    if failures:
        return {**entry, "matched": False, "why": failures}
    entry["matched"] = True
    return entry
