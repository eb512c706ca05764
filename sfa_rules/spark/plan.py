"""How a distributed run splits its rows (SPEC §21), in plain Python: no Spark here.

Each row is first decided alone, against an empty state (in parallel). What a row's
owner depends on beyond the row itself is then named by *keys*:

- ``t:<territory>``: the territory whose distribution gives it its owner (directly, or
  through an override to that territory), and every matched territory whose members'
  eligibility depends on loads (capacity, least loaded) that it was tried at;
- the same for the row decided as if every capacity-limited rep were full (where it
  would fall through to);
- ``r:<rep>``: its owner, when that rep's load matters to someone (a capacity, or a
  member of a least_loaded territory), and a capacity-limited rep an override named;
- ``id:<id>``: an id that occurs on more than one row (the later rows are "known");
- ``m:<kind>:<value>``: a key of account matching and duplicates (an e-mail domain, a
  company name, ...) that occurs on more than one row: a lead matched to the customer
  of an earlier row, or a duplicate of an earlier lead, is decided after it.

Keys of one row belong together; the connected groups of keys are the *components*.
A component that is one territory whose members no date or load can make ineligible
(round_robin or weighted) is a *window*: the owner of its n-th record (in input order)
is the n-th of its rotation's periodic sequence. Every other component is decided in
one ordered pass of the sequential engine over its rows, in input order; components
are independent, so the passes run in parallel. Rows with no key (errors, kept owners
nobody's load depends on, the default owner, no owner) keep their alone decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sfa_rules.engine.core import Engine
from sfa_rules.matching.matcher import key_space
from sfa_rules.state.store import MemoryStore

__all__ = ["Plan", "full_loads", "load_relevant", "match_keys", "row_keys", "rotation_sequence"]

CUSTOMER_TYPES = frozenset({"lead", "prospect", "customer"})


def load_relevant(engine: Engine) -> tuple[frozenset[str], frozenset[str]]:
    """(reps whose open-record count matters, territories whose picks depend on loads)."""
    reps = engine.assigner.reps
    capped = {r for r, rep in reps.items() if rep.max_open is not None}
    relevant = set(capped)
    dependent = set()
    for t in engine.index.tried():
        members = {rep for rep, _ in t.members}
        if t.distribution == "least_loaded":
            relevant |= members
            dependent.add(t.id)
        if members & capped:
            dependent.add(t.id)
    return frozenset(relevant), frozenset(dependent)


def full_loads(engine: Engine) -> MemoryStore:
    """An empty state where every capacity-limited rep is full."""
    store = MemoryStore()
    for rep_id, rep in engine.assigner.reps.items():
        if rep.max_open is not None:
            store.add_open(rep_id, rep.max_open)
    store.commit()
    return store


def row_keys(
    engine: Engine,
    decisions: Sequence[Mapping[str, Any]],
    relevant: frozenset[str],
    dependent: frozenset[str],
) -> set[str]:
    """The keys of one row, from its alone decisions (normal and all-full), traced."""
    overrides = {oid: (rep, tid) for oid, _, rep, tid in engine.assigner.overrides}
    keys: set[str] = set()
    for d in decisions:
        by = d.get("assigned_by") or ""
        if by.startswith("territory:"):
            keys.add("t:" + by[len("territory:"):])
        elif by.startswith("override:"):
            rep, tid = overrides.get(by[len("override:"):], (None, None))
            if tid is not None:
                keys.add("t:" + tid)
        owner = d.get("owner")
        if owner in relevant:
            keys.add("r:" + owner)
        for step in d.get("trace") or ():
            if step.get("step") == "territory" and step.get("matched") and step["id"] in dependent:
                keys.add("t:" + step["id"])
            if step.get("step") == "override" and step.get("matched"):
                rep, _ = overrides.get(step["id"], (None, None))
                if rep in relevant:
                    keys.add("r:" + rep)
    return keys


def match_keys(engine: Engine, record: Mapping[str, Any], ok: bool) -> set[str]:
    """The ``m:`` keys of a row decided without error (none without matching rules); a
    lead's e-mail domain and a customer's website domain share one, as in the matcher."""
    matcher = engine.matcher
    if matcher is None or not ok:
        return set()
    canonical = {engine.ctx.field(str(k)): v for k, v in record.items()}
    return {f"m:{key_space(kind)}:{value}"
            for kind, value in matcher.keys.values(canonical).items()}


class Plan:
    """Components of the keys, and which are windows (see the module docstring)."""

    def __init__(self, engine: Engine, key_sets: Iterable[Iterable[str]]) -> None:
        parent: dict[str, str] = {}

        def find(k: str) -> str:
            parent.setdefault(k, k)
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        relevant, _ = load_relevant(engine)
        for t in engine.index.tried():  # a territory belongs with its load-relevant members
            for rep, _ in t.members:
                if rep in relevant:
                    parent[find("r:" + rep)] = find("t:" + t.id)
        for keys in key_sets:
            ks = sorted(keys)
            if ks:
                find(ks[0])
            for k in ks[1:]:
                parent[find(k)] = find(ks[0])
        groups: dict[str, list[str]] = {}
        for k in list(parent):
            groups.setdefault(find(k), []).append(k)
        self.component = {k: min(members) for members in groups.values() for k in members}
        self.windows: dict[str, list[str]] = {}
        for members in groups.values():
            if len(members) == 1 and members[0].startswith("t:"):
                seq = _window_sequence(engine, members[0][2:])
                if seq is not None:
                    self.windows[members[0]] = seq

    def route(self, keys: Iterable[str]) -> tuple[str, str]:
        """("window", territory key) or ("pass", component) for a row's keys;
        ("alone", "") when the row keeps its alone decision."""
        ks = list(keys)
        if not ks:
            return "alone", ""
        comp = self.component[ks[0]]
        if comp in self.windows:
            return "window", comp
        return "pass", comp


def _window_sequence(engine: Engine, tid: str) -> list[str] | None:
    """The periodic owner sequence of a territory nothing can make a member ineligible
    in (None when dates or loads can)."""
    t = engine.index.by_id.get(tid)
    if t is None or t.distribution not in ("round_robin", "weighted"):
        return None
    reps = engine.assigner.reps
    active = []
    for rep_id, weight in t.members:
        rep = reps.get(rep_id)
        if rep is None or rep.away or rep.max_open is not None:
            return None
        if rep.active:
            active.append(weight)
    if not active:
        return None
    return rotation_sequence(engine, tid, sum(active) if t.distribution == "weighted" else len(active))


def rotation_sequence(engine: Engine, tid: str, period: int) -> list[str]:
    """One period of a territory's picks from an empty rotation (the engine's own
    simulation, checked to repeat)."""
    picks = engine.assigner.preview(tid, 2 * period, MemoryStore(), "2000-01-01")
    assert picks[:period] == picks[period:], f"rotation of {tid} is not periodic"
    return picks[:period]
