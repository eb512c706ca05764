"""The compiled territory index: first match by priority.

Each territory's full criteria (its named rules and ``when`` under ``match``, and its
parents' criteria, recursively) compile into one predicate. Candidates come from
:mod:`routing.index` as a bit set over the try order (plus a few listed ranks): the
first match is the lowest candidate whose predicate holds, and a candidate whose
criteria the set proves (only eq / in / prefix tests, all filed) is not even tested.
The plain ``scan`` is the reference the property tests hold the index to.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date as Date
from functools import partial

from sfa_rules.config.models import Config, Territory
from sfa_rules.config.order import try_order
from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.criteria.nodes import ALWAYS, NEVER, All, Any_, Node, RuleRef
from sfa_rules.criteria.predicates import Predicate, closure, compile, paused_gc
from sfa_rules.routing.index import BitIndex

DateLike = str | Date | None
_FIRST_64 = (1 << 64) - 1
_CLOSURE_TESTS = 64


@dataclass(frozen=True, slots=True)
class CompiledTerritory:
    """A territory as the per-record loop sees it: plain values and one predicate."""

    id: str
    rank: int  # position in try order (the default territory is last)
    predicate: Predicate
    active: bool
    start: str | None  # effective window, ISO dates, inclusive
    end: str | None
    default: bool
    members: tuple[tuple[str, int], ...]  # (rep id, weight), declared order
    distribution: str

    def in_effect(self, day: str) -> bool:
        """Active and within its effective window on ``day`` (ISO)."""
        if not self.active:
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def iso_day(day: DateLike) -> str:
    """An ISO date string for ``day`` (today when None)."""
    if day is None:
        return Date.today().isoformat()
    return day.isoformat() if isinstance(day, Date) else day


class TerritoryIndex:
    """Territories compiled for matching; ``candidates`` / ``first_match`` use the
    index, ``scan`` / ``scan_first`` test every territory in order (the reference)."""

    def __init__(self, config: Config, ctx: CriteriaContext) -> None:
        with paused_gc():
            self._compile(config, ctx)

    def _compile(self, config: Config, ctx: CriteriaContext) -> None:
        self.ctx = ctx
        territories = config.territories
        nodes = _full_nodes(config, ctx)
        order = try_order(territories)
        defaults = [i for i, t in enumerate(territories) if t.default]
        self.order: tuple[CompiledTerritory, ...] = tuple(
            _compiled(territories[i], rank, nodes[i]) for rank, i in enumerate(order)
        )
        self.default: CompiledTerritory | None = None
        if defaults:
            i = defaults[0]
            self.default = _compiled(territories[i], len(order), nodes[i])
        self.by_id = {t.id: t for t in (*self.order, *([self.default] if self.default else []))}
        # The per-record loops read these, not the dataclasses: the ranks of the
        # territories with an effective window (few: a small set stays in cache where
        # a tuple by rank would not), and (``_build``) each rank's predicate test.
        self._dated = frozenset(
            t.rank for t in self.order if t.start is not None or t.end is not None)
        self._build([nodes[i] for i in order])

    # -- matching ---------------------------------------------------------------

    def candidates(self, facts: Facts, day: DateLike = None,
                   after: int = -1) -> Iterator[CompiledTerritory]:
        """The matching territories in try order, lazily, of rank above ``after``;
        the default one last."""
        found = self.first_match(facts, day, after)
        while found is not None and found is not self.default:
            yield found
            found = self.first_match(facts, day, found.rank)
        if found is not None:
            yield found

    def first_match(self, facts: Facts, day: DateLike = None,
                    after: int = -1) -> CompiledTerritory | None:
        """The first matching territory of rank above ``after`` (the default one when
        no other matches): per part of the index, the lowest candidate of its set that
        matches, unless an extra one before it does; the earliest of the parts'."""
        tests, dated = self._tests, self._dated
        best = size = len(self.order)
        for part in self._parts(facts):
            ranks, exact = part.ranks, part.exact
            if best < size:  # only the positions before an earlier part's match:
                # an AND is as long as its shorter side, so these cost that much less
                cut = bisect_left(ranks, best)
                if not cut:
                    continue
                found, extra = part.candidates(facts, (1 << cut) - 1)
            else:
                found, extra = part.candidates(facts, part.every)
            if after >= 0:  # a later candidate: the positions up to ``after`` cleared
                skip = bisect_right(ranks, after)
                found = found >> skip << skip
            while found:
                # The lowest bit, looked for in the first 64 first: a negation of all
                # of a wide set costs more than the rest of the loop.
                low = found & _FIRST_64 or found
                i = (low & -low).bit_length() - 1
                rank = ranks[i]
                if rank >= best:
                    break
                if (i in exact or tests[rank](facts)) and (
                        rank not in dated or self.order[rank].in_effect(iso_day(day))):
                    best = rank
                    break
                found ^= 1 << i
            for positions in extra:
                for i in positions:
                    rank = ranks[i]
                    if rank >= best:
                        break
                    if rank > after and tests[rank](facts) and (
                            rank not in dated or self.order[rank].in_effect(iso_day(day))):
                        best = rank
                        break
        if best < size:
            return self.order[best]
        return self._default_for(facts, day) if after < size else None

    def _default_for(self, facts: Facts, day: DateLike) -> CompiledTerritory | None:
        """The default territory if it is in effect and matches (when no other does)."""
        default = self.default
        if default is not None and default.in_effect(iso_day(day)) and default.predicate.test(facts):
            return default
        return None

    def scan(self, facts: Facts, day: DateLike = None) -> Iterator[CompiledTerritory]:
        """The same as ``candidates``, testing every territory in order (no index)."""
        today = iso_day(day)
        for t in (*self.order, *([self.default] if self.default else [])):
            if t.in_effect(today) and t.predicate.test(facts):
                yield t

    def scan_first(self, facts: Facts, day: DateLike = None) -> CompiledTerritory | None:
        """The first matching territory by plain scan."""
        return next(self.scan(facts, day), None)

    def tried(self) -> tuple[CompiledTerritory, ...]:
        """Every territory in try order, the default last (for traces)."""
        return (*self.order, *([self.default] if self.default else []))

    # -- the index ----------------------------------------------------------------

    def _build(self, nodes: list[Node]) -> None:
        """The candidate sets (:mod:`routing.index`), and per rank its predicate test."""
        self._parts = BitIndex(nodes, [t.active for t in self.order]).parts_of
        # Each rank's test is put here at its first call (``_first_test``).
        self._tests: list[Callable[[Facts], bool]] = [
            partial(self._first_test, rank) for rank in range(len(self.order))]

    def _first_test(self, rank: int, facts: Facts) -> bool:
        """A rank's tests run its closures (cheap to build) for its first
        ``_CLOSURE_TESTS`` calls, then its generated function (a third of a closure's
        cost per call, 3-4x its cost to build): of a large plan, most territories the
        index cannot prove are tested a few times in a run, a few of them at every row."""
        predicate = self.order[rank].predicate
        test, left = closure(predicate.node), _CLOSURE_TESTS

        def counted(f: Facts) -> bool:
            nonlocal left
            left -= 1
            if not left:
                self._tests[rank] = predicate.test
            return test(f)

        self._tests[rank] = counted
        return counted(facts)


def _compiled(t: Territory, rank: int, node: Node) -> CompiledTerritory:
    window = t.effective
    return CompiledTerritory(
        id=t.id,
        rank=rank,
        predicate=compile(node),
        active=t.active,
        start=window.from_.isoformat() if window and window.from_ else None,
        end=window.to.isoformat() if window and window.to else None,
        default=t.default,
        members=tuple((m.rep, m.weight) for m in t.members),
        distribution=t.distribution,
    )


def _full_nodes(config: Config, ctx: CriteriaContext) -> list[Node]:
    """Each territory's own criteria and, recursively, its parents'."""
    territories = config.territories
    first = {t.id: i for i, t in reversed(list(enumerate(territories)))}
    own: list[Node] = []
    for i, t in enumerate(territories):
        parts: list[Node] = [RuleRef(r, ctx.rule(r, ("territories", i, "rules", j))) for j, r in enumerate(t.rules)]
        if t.when is not None:
            parts.append(ctx.node(("territories", i, "when")))
        if not parts:
            own.append(ALWAYS)
        elif len(parts) == 1:
            own.append(parts[0])
        else:
            own.append(All(tuple(parts)) if t.match == "all" else Any_(tuple(parts)))
    full: dict[int, Node] = {}

    def resolve(i: int, seen: frozenset[int]) -> Node:
        if i in full:
            return full[i]
        if i in seen:
            return NEVER  # a parent loop (a `checks` error): never match
        parent = territories[i].parent
        p = first.get(parent) if parent is not None else None
        node = own[i] if p is None else All((own[i], resolve(p, seen | {i})))
        full[i] = node
        return node

    return [resolve(i, frozenset()) for i in range(len(territories))]
