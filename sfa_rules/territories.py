"""The compiled territory index: first match by priority (SPEC §4, §13).

Each territory's full criteria (its named rules and ``when`` under ``match``, and its
parents' criteria, recursively) compile into one predicate. The index partitions
territories by the equality field most of them require (``country``), then buckets
each by one more required text value (``state: [CA, OR]``) or prefix (``zip: {prefix:
...}``, or the leading characters every value of a text ``between`` shares), the least
crowded of its options; territories with nothing to index sit in a residual list. A
record looks up its own values, merges the hit buckets in try order and tests only
those candidates until the first match; a territory whose criteria are exactly the keys
that found it is not even tested. The plain ``scan`` is the reference the property
tests hold the index to.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date as Date

from .criteria import CriteriaContext
from .facts import Facts
from .models import Config, Territory
from .predicates import (
    ALWAYS,
    NEVER,
    All,
    Any_,
    Node,
    Not,
    Predicate,
    RuleRef,
    Test,
    compile,
    paused_gc,
)

DateLike = str | Date | None
# A text range is indexed by its common prefix plus the span of its next character,
# when that span is no wider than this (e.g. "90000".."96199" -> "90".."96").
_MAX_SPAN = 64


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


def try_order(territories: Sequence[Territory]) -> list[int]:
    """Indexes of the non-default territories in try order: priority (lower first),
    then file order, except that a child at its parent's priority comes before it."""
    first = {t.id: i for i, t in reversed(list(enumerate(territories)))}
    children: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(territories):
        parent = first.get(t.parent) if t.parent is not None else None
        if parent is not None and territories[parent].priority == t.priority:
            children[parent].append(i)
    out: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for child in children[i]:
            visit(child)
        out.append(i)

    others = [i for i, t in enumerate(territories) if not t.default]
    for i in sorted(others, key=lambda i: territories[i].priority):
        visit(i)
    return [i for i in out if not territories[i].default]


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
        # Parallel tuples by rank: the per-record loops read these, not the dataclasses.
        self._tests = tuple(t.predicate.test for t in self.order)
        self._dated = tuple(t.start is not None or t.end is not None for t in self.order)
        self._build([nodes[i] for i in order])

    # -- matching ---------------------------------------------------------------

    def candidates(self, facts: Facts, day: DateLike = None) -> Iterator[CompiledTerritory]:
        """The matching territories in try order, lazily; the default one last."""
        today = iso_day(day)
        order, tests, dated = self.order, self._tests, self._dated
        exact = self._exact
        for rank in self._ranks(facts):
            if (exact[rank] or tests[rank](facts)) and (
                not dated[rank] or order[rank].in_effect(today)
            ):
                yield order[rank]
        default = self.default
        if default is not None and default.in_effect(today) and default.predicate.test(facts):
            yield default

    def first_match(self, facts: Facts, day: DateLike = None) -> CompiledTerritory | None:
        """The first matching territory (the default one when no other matches).

        The first match is the earliest of each hit bucket's first match, so the
        buckets need no merge: a first pass takes the exact candidates (no predicate to
        run), a second tests the others, each bucket only below the best rank so far.
        """
        tests, dated, order, exact = self._tests, self._dated, self.order, self._exact
        hits = self._hits(facts)
        best = len(order)
        for bucket in hits:
            for rank in bucket:
                if rank >= best:
                    break
                if exact[rank] and (not dated[rank] or order[rank].in_effect(iso_day(day))):
                    best = rank
                    break
        for bucket in hits:
            for rank in bucket:
                if rank >= best:
                    break
                if not exact[rank] and tests[rank](facts) and (
                    not dated[rank] or order[rank].in_effect(iso_day(day))
                ):
                    best = rank
                    break
        if best < len(order):
            return order[best]
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
        """Partition by the most commonly required equality field (country, say), then
        bucket each territory by its least crowded remaining option. A territory whose
        criteria are exactly the keys it is found by needs no test at all (exact)."""
        options = {rank: _options(node) for rank, node in enumerate(nodes)
                   if self.order[rank].active}  # inactive ones are in no bucket at all
        usage: Counter[str] = Counter(
            field for opts in options.values() for field, kind in opts if kind == "eq")
        field = usage.most_common(1)[0][0] if usage else None
        self._partition_field = field
        pkey = (field or "", "eq")
        crowd: Counter[tuple[str, str, str]] = Counter(
            (f, k, v) for opts in options.values() for (f, k), values in opts.items()
            if (f, k) != pkey for v in values)

        def crowding(option: tuple[tuple[str, str], frozenset[str]]) -> float:
            # A record hits one bucket of an option: its average crowd is the cost.
            (f, k), values = option
            return sum(crowd[(f, k, v)] for v in values) / len(values)

        parts: dict[str, dict[int, Option | None]] = defaultdict(dict)
        rest: dict[int, Option | None] = {}
        exact = [False] * len(nodes)
        for rank, opts in options.items():
            partition = opts.get(pkey) if field is not None else None
            others = [o for o in opts.items() if o[0] != pkey]
            chosen = min(others, key=crowding) if others else None
            used = dict([chosen] if chosen else [])
            if partition is not None:
                used[pkey] = partition
                for value in partition:
                    parts[value][rank] = chosen
            else:
                rest[rank] = chosen
            exact[rank] = _implied(nodes[rank], used)
        self._partitions = {value: _Table(members) for value, members in parts.items()}
        self._rest = _Table(rest)
        self._exact = tuple(exact)

    def _ranks(self, facts: Facts) -> list[int]:
        """Candidate ranks in try order: the hit buckets, merged."""
        hits = self._hits(facts)
        if len(hits) == 1:
            return hits[0]
        if not hits:
            return []
        return sorted([rank for bucket in hits for rank in bucket])

    def _hits(self, facts: Facts) -> list[list[int]]:
        """The buckets (each in try order) the record's values hit, in the record's
        partition and among the unpartitioned territories."""
        text = facts.text
        hits: list[list[int]] = []
        if self._partition_field is not None:
            value = text.get(self._partition_field)
            if value is not None:
                table = self._partitions.get(value)
                if table is not None:
                    table.collect(text, hits)
        self._rest.collect(text, hits)
        return hits


class _Table:
    """Buckets of some territories, each under the values of its chosen option (a
    required value or prefix of one field); those with none in a residual list."""

    def __init__(self, members: dict[int, Option | None]) -> None:
        eq: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        prefix: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        residual: list[int] = []
        for rank in sorted(members):
            chosen = members[rank]
            if chosen is None:
                residual.append(rank)
                continue
            (field, kind), values = chosen
            table = eq if kind == "eq" else prefix
            for value in values:
                table[field][value].append(rank)
        self.eq = tuple((f, dict(b)) for f, b in eq.items())
        self.prefix = tuple(
            (f, tuple(sorted({len(p) for p in b})), dict(b)) for f, b in prefix.items()
        )
        self.residual = residual

    def collect(self, text: dict[str, str], hits: list[list[int]]) -> None:
        """Append the buckets a record's values hit (and the residual list)."""
        for field, buckets in self.eq:
            value = text.get(field)
            if value is not None:
                bucket = buckets.get(value)
                if bucket is not None:
                    hits.append(bucket)
        for field, lengths, buckets in self.prefix:
            value = text.get(field)
            if value is not None:
                size = len(value)
                for length in lengths:
                    if length > size:
                        break
                    bucket = buckets.get(value[:length])
                    if bucket is not None:
                        hits.append(bucket)
        if self.residual:
            hits.append(self.residual)


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


Options = dict[tuple[str, str], frozenset[str]]
Option = tuple[tuple[str, str], frozenset[str]]


def _conjuncts(node: Node) -> list[Test] | None:
    """The tests of a node that is a plain conjunction (None if it is not)."""
    if isinstance(node, Test):
        return [node]
    if isinstance(node, RuleRef):
        return _conjuncts(node.node)
    if not isinstance(node, All):
        return None
    out: list[Test] = []
    for child in node.nodes:
        tests = _conjuncts(child)
        if tests is None:
            return None
        out += tests
    return out


def _implied(node: Node, used: Options) -> bool:
    """Does finding a record through ``used`` (its value is one of the values, or
    starts with one of the prefixes, of each key) prove that ``node`` holds?"""
    tests = _conjuncts(node)
    if tests is None:
        return False
    for t in tests:
        if t.op in ("eq", "in"):
            values = frozenset([t.value] if t.op == "eq" else t.value)
            if used.get((t.field, "eq")) != values:
                return False
        elif t.op == "prefix":
            if used.get((t.field, "prefix")) != _minimal(t.value):
                return False
        else:
            return False
    return True


def _options(node: Node) -> Options:
    """The index keys a node requires: (field, "eq"|"prefix") -> values, one of which
    every matching record must hold; empty when nothing usable is required."""
    if isinstance(node, Test):
        if node.op in ("eq", "in"):
            values = (node.value,) if node.op == "eq" else node.value
            return {(node.field, "eq"): frozenset(values)}
        if node.op == "prefix":
            return {(node.field, "prefix"): _minimal(node.value)}
        if node.op == "between" and node.kind == "text":
            spans = _range_prefixes(*node.value)
            return {(node.field, "prefix"): spans} if spans else {}
        return {}
    if isinstance(node, RuleRef):
        return _options(node.node)
    if isinstance(node, Not):
        return {}
    children = [_options(child) for child in node.nodes]
    if isinstance(node, All):
        out: Options = {}
        for opts in children:
            for key, values in opts.items():
                if key not in out or len(values) < len(out[key]):
                    out[key] = values
        return out
    if not children:
        return {}
    common = set.intersection(*(set(opts) for opts in children))
    merged: Options = {}
    for key in common:
        union = frozenset().union(*(opts[key] for opts in children))
        merged[key] = _minimal(union) if key[1] == "prefix" else union
    return merged


def _minimal(prefixes: Sequence[str] | frozenset[str]) -> frozenset[str]:
    """Drop prefixes that a shorter one already covers, so a value hits one bucket."""
    kept: list[str] = []
    for p in sorted(set(prefixes), key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return frozenset(kept)


def _range_prefixes(low: str, high: str) -> frozenset[str]:
    """Prefixes every text in [low, high] starts with one of (may be {""}: no help)."""
    k = 0
    while k < len(low) and k < len(high) and low[k] == high[k]:
        k += 1
    common = low[:k]
    if k < len(low) and k < len(high) and ord(high[k]) - ord(low[k]) < _MAX_SPAN:
        return frozenset(common + chr(c) for c in range(ord(low[k]), ord(high[k]) + 1))
    return frozenset([common]) if common else frozenset()
