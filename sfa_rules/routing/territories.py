"""The compiled territory index: first match by priority (SPEC §4, §13).

Each territory's full criteria (its named rules and ``when`` under ``match``, and its
parents' criteria, recursively) compile into one predicate. The index partitions
territories by the equality field most of them require (``country``), then files each
under every key of its least crowded other option (``territory_index``): a required
text value (``state: [CA, OR]``), a prefix (``zip: {prefix: ...}``, a text ``between``,
a ``^literal`` regex), or one key per alternative of an ``any`` (``any: [{country: X},
{state: Y}]`` is filed under country=X and under state=Y). Territories with nothing to
index sit in a residual list. A record looks up its own values (one generated function
per partition), walks the hit buckets side by side and tests only the candidates before
the best match so far; a territory whose criteria are proven by the keys that found it
(and the guard its part checked) is not even tested. The plain ``scan`` is the
reference the property tests hold the index to.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date as Date
from itertools import islice

from sfa_rules.config.models import Config, Territory
from sfa_rules.config.order import try_order
from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.criteria.nodes import ALWAYS, NEVER, All, Any_, Node, RuleRef
from sfa_rules.criteria.predicates import Predicate, compile, paused_gc
from sfa_rules.routing.index import Bucket, Partitioned
from sfa_rules.routing.keys import Option, choose, group_of, implied, options

DateLike = str | Date | None
# first_match walks the hit buckets side by side in bands of rank, the first holding
# about this many candidates, each next one 4x wider.
_BAND = 8


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

    def candidates(self, facts: Facts, day: DateLike = None) -> Iterator[CompiledTerritory]:
        """The matching territories in try order, lazily; the default one last."""
        today = iso_day(day)
        order, checks, dated = self.order, self._checks, self._dated
        for rank in self._ranks(facts):
            check = checks[rank]
            if (check is None or check(facts)) and (rank not in dated or order[rank].in_effect(today)):
                yield order[rank]
        default = self.default
        if default is not None and default.in_effect(today) and default.predicate.test(facts):
            yield default

    def first_match(self, facts: Facts, day: DateLike = None) -> CompiledTerritory | None:
        """The first matching territory (the default one when no other matches).

        The first match is the earliest of each hit bucket's first match, so the
        buckets need no merge. They are walked side by side in widening bands of rank
        (the first holding about ``_BAND`` candidates, then 4x wider): a band that
        finds a match ends the search, so a long bucket whose own first match is late
        costs nothing when another bucket's comes early. Exact candidates need no
        predicate run. Most records are decided in the first band.
        """
        hits = self._hits(facts)
        best = size = len(self.order)
        if hits:
            # Earliest first candidate first: a match found early stops the other
            # buckets at their first candidate, untested.
            hits.sort()
            limit = size * _BAND // sum(map(len, hits)) + 1
            best = self._band(facts, day, hits, 0, limit)
            while best == size and limit < size:
                best = self._band(facts, day, hits, limit, limit * 4)
                limit *= 4
        return self.order[best] if best < size else self._default_for(facts, day)

    def _band(self, facts: Facts, day: DateLike, hits: list[Bucket], low: int, cap: int) -> int:
        """The rank of the first match in ``low`` .. ``cap`` - 1 (the size when none)."""
        checks, dated = self._checks, self._dated
        best = len(self.order)
        for bucket in hits:
            # Walked, not bisected, from the start: a band mostly ends after a candidate.
            for rank in islice(bucket, bisect_left(bucket, low), None) if low else bucket:
                if rank >= cap:
                    break
                check = checks[rank]
                if (check is None or check(facts)) and (
                    rank not in dated or self.order[rank].in_effect(iso_day(day))
                ):
                    best = cap = rank  # later buckets only need to beat it
                    break
        return best

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
        """Partition by the equality field most territories require (country, say),
        then file each territory under every key of its least crowded other option. A
        territory whose criteria are proven by the keys it is found by (and the guard
        of its part) needs no test at all (exact)."""
        found = {rank: options(node) for rank, node in enumerate(nodes)
                 if self.order[rank].active}  # inactive ones are in no bucket at all
        usage: Counter[str] = Counter(
            field for opts in found.values() for o in opts
            for field, kind in group_of(o) if kind == "eq" and len(group_of(o)) == 1)
        field = usage.most_common(1)[0][0] if usage else None
        pkey = (field, "eq") if field is not None else None
        chosen = choose(found, pkey)
        parts: dict[str, dict[int, Option | None]] = defaultdict(dict)
        rest: dict[int, Option | None] = {}
        used: dict[int, list[Option]] = {}  # the options a record finding it holds keys of
        for rank, opts in found.items():
            partition = min((o for o in opts if group_of(o) == {pkey}), key=len, default=None)
            used[rank] = [o for o in (partition, chosen[rank]) if o is not None]
            if partition is not None:
                for _, _, value in partition:
                    parts[value][rank] = chosen[rank]
            else:
                rest[rank] = chosen[rank]
        self._index = Partitioned(field, parts, rest, nodes)
        self._hits = self._index.hits
        guards = self._index.guards
        # Each rank's predicate test, None when finding it proves it (exact).
        self._checks = tuple(
            None if rank in used and all(implied(nodes[rank], used[rank], g) for g in guards[rank])
            else t.predicate.test for rank, t in enumerate(self.order))

    def _ranks(self, facts: Facts) -> Sequence[int]:
        """Candidate ranks in try order: the hit buckets, merged (a territory filed
        under several keys may be in more than one)."""
        hits = self._hits(facts)
        if len(hits) == 1:
            return hits[0]
        if not hits:
            return []
        return sorted({rank for bucket in hits for rank in bucket})


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
