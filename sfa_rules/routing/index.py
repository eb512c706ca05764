"""Index keys of territory criteria, and the buckets that file territories under them
(SPEC §13).

A *key* is one thing a record's text can hold: ``(field, "eq", value)`` (the folded
value equals it) or ``(field, "prefix", value)`` (it starts with it). An *option* of a
criteria block is a set of keys at least one of which every matching record holds:
``state: [CA, OR]`` gives {state=ca, state=or}; ``zip: {prefix: "94"}``, a text
``between`` (the prefixes its bounds share) and a ``regex`` anchored by ``^`` and
literal text (``^acme``) give prefixes; ``any`` of blocks gives one key set drawn from
each alternative (``any: [{country: X}, {state: Y}]`` -> {country=x, state=y}). A
territory is filed under every key of its chosen option, so a record finds it through
whichever key it holds; a record may find it twice and callers deduplicate.
``Partitioned`` keeps a table per value of the partition field and writes each
partition's probes out as one generated function (``_hits_function``).
"""

from __future__ import annotations

import math
import re
import sys
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.nodes import All, Any_, Node, Not, RuleRef, Test

Key = tuple[str, str, str]  # (field, "eq" | "prefix", value)
Option = frozenset[Key]
Group = tuple[str, str]  # (field, "eq" | "prefix")

# A text range is indexed by its common prefix plus the span of its next character,
# when that span is no wider than this (e.g. "90000".."96199" -> "90".."96").
_MAX_SPAN = 64
# At most this many options kept per block (an `any` of `any`s multiplies them).
_MAX_OPTIONS = 8
# A guard (a value a field must not hold) shared by at least this many territories of
# a table sets them apart (at most this many guards per table).
_MIN_GUARDED = 8
_MAX_GUARDS = 4
# Numeric ranges: cells cut coarser until they hold at most this many entries per range.
_RANGE_BUDGET = 16
# Operators whose keys are exactly what they require (a between's or regex's are more).
_KEYED = ("eq", "in", "prefix")
_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_REGEX_REPEAT = frozenset("*+?{")
# Literal characters whose case-insensitive matches all fold (str.lower) to text that
# starts with their own lower case: "i" and "s" also match "ı" and "ſ", which do not.
_FOLD_SAFE = frozenset(
    "abcdefghjklmnopqrtuvwxyzABCDEFGHJKLMNOPQRTUVWXYZ0123456789 -_@,:/#&'\"=!%<>;~`")


def options(node: Node) -> list[Option]:
    """The options a node requires (each a key set one of which every matching record
    holds); empty when nothing usable is required."""
    if isinstance(node, Test):
        keys = _test_keys(node)
        return [keys] if keys else []
    if isinstance(node, RuleRef):
        return options(node.node)
    if isinstance(node, Not):
        return []
    children = [options(child) for child in node.nodes]
    if isinstance(node, All):
        return _conjoin([o for opts in children for o in opts])
    if not children or any(not opts for opts in children):
        return []  # an alternative with no key: a record may match through it alone
    return _disjoin(children)


def group_of(option: Option) -> set[Group]:
    """The (field, kind) pairs an option's keys use."""
    return {(f, k) for f, k, _ in option}


def _test_keys(node: Test) -> Option:
    field, op = node.field, node.op
    if op in ("eq", "in"):
        values = (node.value,) if op == "eq" else node.value
        return frozenset((field, "eq", v) for v in values)
    if op == "prefix":
        return frozenset((field, "prefix", p) for p in minimal(node.value))
    if op == "between" and node.kind == "text":
        return frozenset((field, "prefix", p) for p in range_prefixes(*node.value))
    if op == "regex":
        literal = regex_prefix(node.value)
        return frozenset([(field, "prefix", literal)]) if literal else frozenset()
    return frozenset()


def _conjoin(found: list[Option]) -> list[Option]:
    """All the options of a conjunction, the smallest one per single (field, kind)."""
    single: dict[Group, Option] = {}
    mixed: list[Option] = []
    for option in found:
        groups = group_of(option)
        if len(groups) == 1:
            (g,) = groups
            if g not in single or len(option) < len(single[g]):
                single[g] = option
        elif option not in mixed:
            mixed.append(option)
    return [*single.values(), *mixed[:_MAX_OPTIONS]]


def _disjoin(children: list[list[Option]]) -> list[Option]:
    """Options of an ``any``: per (field, kind) every alternative requires, the union
    of theirs; and one mixed option taking each alternative's smallest option."""
    out: list[Option] = []
    common = set.intersection(*(
        {g for o in opts if len(gs := group_of(o)) == 1 for g in gs} for opts in children))
    for g in sorted(common):
        union = frozenset().union(*(
            min((o for o in opts if group_of(o) == {g}), key=len) for opts in children))
        out.append(_tidy(union))
    mixed = _tidy(frozenset().union(*(min(opts, key=len) for opts in children)))
    if mixed not in out:
        out.append(mixed)
    return out[:_MAX_OPTIONS]


def _tidy(option: Option) -> Option:
    """Per field, drop prefixes that a shorter one (or an equal value) already covers."""
    prefixes: dict[str, list[str]] = defaultdict(list)
    for f, k, v in option:
        if k == "prefix":
            prefixes[f].append(v)
    if not prefixes:
        return option
    kept = {(f, k, v) for f, k, v in option if k == "eq"}
    for f, values in prefixes.items():
        kept |= {(f, "prefix", p) for p in minimal(values)}
    return frozenset(kept)


def minimal(prefixes: Sequence[str] | frozenset[str]) -> frozenset[str]:
    """Drop prefixes that a shorter one already covers, so a value hits one bucket."""
    kept: list[str] = []
    for p in sorted(set(prefixes), key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return frozenset(kept)


def range_prefixes(low: str, high: str) -> frozenset[str]:
    """Prefixes every text in [low, high] starts with one of (empty: no help)."""
    k = 0
    while k < len(low) and k < len(high) and low[k] == high[k]:
        k += 1
    common = low[:k]
    if k < len(low) and k < len(high) and ord(high[k]) - ord(low[k]) < _MAX_SPAN:
        return frozenset(common + chr(c) for c in range(ord(low[k]), ord(high[k]) + 1))
    return frozenset([common]) if common else frozenset()


def regex_prefix(pattern: re.Pattern[str]) -> str | None:
    """The literal text every string the pattern finds starts with (``^acme\\d`` ->
    "acme"), folded as record text is when the pattern ignores case; None when there
    is none or the pattern is not plainly anchored (no ``^``, ``|``, multiline...)."""
    text, flags = pattern.pattern, pattern.flags
    if flags & (re.MULTILINE | re.VERBOSE) or not text.startswith("^") or "|" in text:
        return None
    literal: list[str] = []
    for c in text[1:]:
        if c in _REGEX_SPECIAL:
            if c in _REGEX_REPEAT and literal:
                literal.pop()  # "^ab?" requires only "a"
            break
        if flags & re.IGNORECASE and c not in _FOLD_SAFE:
            break
        literal.append(c)
    found = "".join(literal)
    if flags & re.IGNORECASE:
        found = found.lower()
    return found or None


def implied(node: Node, used: Sequence[Option], guard: Guard | None = None) -> bool:
    """Does finding a record through ``used`` (it holds a key of each option), in a
    part whose ``guard`` it passed, prove that ``node`` holds? Every conjunct must be
    proven: an eq / in / prefix test by an option that is exactly its keys, an ``any``
    of such tests by an option that is exactly all their keys (``any: [{country: X},
    {state: Y}]`` by {country=x, state=y}: a record holding either key holds one
    alternative), a ne / not_in (or ``not`` of eq / in) by the guard."""
    for part in _parts(node):
        if isinstance(part, Any_):
            tests = [t for alternative in part.nodes
                     if isinstance(t := _unwrapped(alternative), Test) and t.op in _KEYED]
            if len(tests) < len(part.nodes):
                return False
            if _tidy(frozenset().union(*(_test_keys(t) for t in tests))) not in used:
                return False
        elif isinstance(part, Test) and part.op in _KEYED:
            if _test_keys(part) not in used:
                return False
        elif (excluded := _as_guard(part)) is not None:
            if guard is None or guard[0] != excluded[0] or not excluded[1] <= guard[1]:
                return False
        else:
            return False
    return True


def choose(found: dict[int, list[Option]], skip: Group | None) -> dict[int, Option | None]:
    """Each territory's least crowded option other than ``skip`` (the partition's).

    A record holds at most one value of a field, so an option's cost is, per (field,
    kind) it uses, the average number of territories sharing one of its keys."""
    crowd: Counter[Key] = Counter(
        key for opts in found.values() for o in opts if group_of(o) != {skip} for key in o)

    def cost(option: Option) -> float:
        per: dict[Group, list[int]] = defaultdict(list)
        for key in option:
            per[(key[0], key[1])].append(crowd[key])
        return sum(sum(c) / len(c) for c in per.values())

    chosen: dict[int, Option | None] = {}
    for rank, opts in found.items():
        others = [o for o in opts if group_of(o) != {skip}]
        chosen[rank] = min(others, key=cost) if others else None
    return chosen


Guard = tuple[str, frozenset[str]]  # (field, values it must not hold)
Range = tuple[str, float, float]  # (numeric field, low, high), inclusive


def guards(node: Node) -> list[Guard]:
    """The values a field must not hold for the node to hold (``ne``, ``not_in``, or
    ``not`` of ``eq``/``in``, among the node's conjuncts); an absent field holds them."""
    return [g for part in _parts(node) if (g := _as_guard(part)) is not None]


def _as_guard(part: Node) -> Guard | None:
    """The values a field must not hold, when that is all ``part`` says."""
    negated = isinstance(part, Not)
    test = _unwrapped(part.node if isinstance(part, Not) else part)
    if not isinstance(test, Test) or test.op not in (("eq", "in") if negated else ("ne", "not_in")):
        return None
    values = (test.value,) if test.op in ("eq", "ne") else test.value
    return (test.field, frozenset(values)) if values else None


def _unwrapped(node: Node) -> Node:
    """The node a named rule stands for (the node itself when it is no rule)."""
    while isinstance(node, RuleRef):
        node = node.node
    return node


def number_range(node: Node) -> Range | None:
    """A numeric interval a field must lie in for the node to hold (strict bounds are
    taken as inclusive: a superset), from the node's conjuncts; None when none is."""
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for t in _parts(node):
        if not isinstance(t, Test) or t.kind != "number":
            continue
        lo = t.value[0] if t.op == "between" else t.value if t.op in ("gt", "gte") else None
        hi = t.value[1] if t.op == "between" else t.value if t.op in ("lt", "lte") else None
        if lo is not None:
            low[t.field] = max(lo, low.get(t.field, lo))
        if hi is not None:
            high[t.field] = min(hi, high.get(t.field, hi))
    fields = sorted(set(low) | set(high), key=lambda f: (f not in low or f not in high, f))
    if not fields:
        return None
    f = fields[0]
    return f, low.get(f, -math.inf), high.get(f, math.inf)


def _parts(node: Node) -> list[Node]:
    """The conjuncts of a node (through ``all`` and named rules), whatever they are."""
    if isinstance(node, RuleRef):
        return _parts(node.node)
    if isinstance(node, All):
        return [p for child in node.nodes for p in _parts(child)]
    return [node]


# Ranks in try order. Tuples, not lists: a record touches a few of tens of thousands,
# and a tuple's items sit in its own memory (one cache miss, not two).
Bucket = tuple[int, ...]
# One part of a table, as ``_hits_function`` writes it out: the guard's field (None:
# no guard) and the values it excludes, then the part's eq, prefix and numeric range
# probes and the buckets every record hits (its residual list, if any).
Part = tuple[
    str | None, frozenset[str],
    tuple[tuple[str, dict[str, Bucket]], ...],
    tuple[tuple[str, int, dict[str, tuple[int, ...]], dict[str, Bucket]], ...],
    tuple[tuple[str, list[float], list[Bucket]], ...],
    tuple[Bucket, ...],
]


class Table:
    """Territories filed under every key of their chosen option; those with none under
    the cells of a numeric range they require, else in a residual list. A guard most
    of them share (``lead_source: {ne: Partner}``) sets its territories apart, skipped
    whole for a record holding an excluded value. Every bucket is in try order."""

    def __init__(self, members: dict[int, Option | None], nodes: Sequence[Node]) -> None:
        found = {rank: guards(nodes[rank]) for rank in members}
        shared = Counter(g for gs in found.values() for g in set(gs))
        common = [g for g, n in shared.most_common(_MAX_GUARDS) if n >= _MIN_GUARDED]
        split: dict[Guard | None, dict[int, Option | None]] = defaultdict(dict)
        self.guard_of: dict[int, Guard | None] = {}  # the guard setting each apart, if any
        for rank, chosen in members.items():
            guard = self.guard_of[rank] = next((g for g in common if g in found[rank]), None)
            split[guard][rank] = chosen
        self.parts: tuple[Part, ...] = tuple(
            _part(g[0] if g else None, g[1] if g else frozenset(), part, nodes)
            for g, part in split.items())


Hits = Callable[[Facts], list[Bucket]]


class Partitioned:
    """The tables of the territories that require a value of the partition field, by
    that value, and the table of the others; ``hits`` lists the buckets a record hits."""

    def __init__(self, field: str | None, tables: dict[str, dict[int, Option | None]],
                 rest: dict[int, Option | None], nodes: Sequence[Node]) -> None:
        compiled: dict[str, Callable[..., Hits]] = {}  # by source: one per shape of parts
        rest_table = Table(rest, nodes)
        self.rest = _hits_function(rest_table.parts, compiled)
        # The guards each territory was set apart by, one per table it is in.
        self.guards: dict[int, list[Guard | None]] = defaultdict(list)
        for rank, guard in rest_table.guard_of.items():
            self.guards[rank].append(guard)
        # A record of a partition probes its table and the unpartitioned one: their
        # parts are joined once here, so that a record runs one function.
        self.tables: dict[str | None, Hits] = {}
        if field is not None:
            for value, members in tables.items():
                table = Table(members, nodes)
                for rank, guard in table.guard_of.items():
                    self.guards[rank].append(guard)
                parts = table.parts + _settled(rest_table.parts, field, value)
                self.tables[value] = _hits_function(parts, compiled)
        self.field = field or ""  # no partition field, no tables: every record is "rest"

    def hits(self, facts: Facts) -> list[Bucket]:
        """The buckets (each in try order) the record's values hit in its partition's
        table and the unpartitioned one."""
        return self.tables.get(facts.text.get(self.field), self.rest)(facts)


def _hits_function(parts: tuple[Part, ...], compiled: dict[str, Callable[..., Hits]]) -> Hits:
    """``parts`` as one function ``hits(facts)``, its probes written out one by one: a
    loop reading the parts' tuples per record cost as much as the lookups themselves.
    Field names and lengths are written as literals (``repr`` of str and int); the
    tables are the arguments of a factory, compiled once per shape (``compiled``)::

        def make(a0, a1, a2, a3, a4):
            def hits(f):
                x = f.text
                out = []
                b = a0.get(x.get('state'))
                if b is not None:
                    out.append(b)
                v = x.get('zip')
                if v is not None:
                    for n in a1.get(v[:1], ()):  # longest first: a key's bucket
                        b = a2.get(v[:n])        # holds those of the shorter keys
                        if b is not None:
                            out.append(b)
                            break
                if x.get('lead_source') not in a3:
                    out.extend(a4)
                return out
            return hits
    """
    args: list[object] = []

    def arg(value: object) -> str:
        args.append(value)
        return f"a{len(args) - 1}"

    lines: list[str] = []
    for guard, excluded, eq, prefix, ranges, always in parts:
        at = "        "
        if guard is not None:
            lines.append(f"{at}if x.get({guard!r}) not in {arg(excluded)}:")
            at += "    "
        body: list[str] = []
        for field, buckets in eq:  # a missing field (None) is no key
            body += [f"b = {arg(buckets)}.get(x.get({field!r}))",
                     "if b is not None:",
                     "    out.append(b)"]
        for field, shortest, stems, merged in prefix:
            body += [f"v = x.get({field!r})",
                     "if v is not None:",
                     f"    for n in {arg(stems)}.get(v[:{shortest!r}], ()):",
                     f"        b = {arg(merged)}.get(v[:n])",
                     "        if b is not None:",
                     "            out.append(b)",
                     "            break"]
        for field, bounds, cells in ranges:
            body += [f"v = f.num.get({field!r})",
                     "if v is not None:",
                     f"    b = {arg(cells)}[bisect_right({arg(bounds)}, v)]",
                     "    if b:",
                     "        out.append(b)"]
        if always:
            body.append(f"out.extend({arg(always)})")
        lines += [at + line for line in body or ["pass"]]
    source = "\n".join([f"def make({', '.join(f'a{i}' for i in range(len(args)))}):",
                        "    def hits(f):",
                        "        x = f.text",
                        "        out = []",
                        *lines,
                        "        return out",
                        "    return hits"])
    if source not in compiled:
        namespace: dict[str, Any] = {"bisect_right": bisect_right}
        exec(compile(source, "<territory index>", "exec"), namespace)  # noqa: S102 - see docstring
        compiled[source] = namespace["make"]
    return compiled[source](*args)


def _part(guard: str | None, excluded: frozenset[str], members: dict[int, Option | None],
          nodes: Sequence[Node]) -> Part:
    eq: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    prefix: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    spans: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    residual: list[int] = []
    for rank in sorted(members):
        chosen = members[rank]
        if chosen is not None:
            for field, kind, value in chosen:
                # Interned: the partitions' tables share one string per key, fewer to cache.
                (eq if kind == "eq" else prefix)[field][sys.intern(value)].append(rank)
        elif (span := number_range(nodes[rank])) is not None:
            spans[span[0]].append((rank, span[1], span[2]))
        else:
            residual.append(rank)
    return (guard, excluded,
            tuple((f, {k: tuple(b) for k, b in keys.items()}) for f, keys in eq.items()),
            tuple(_prefix_table(f, b) for f, b in prefix.items()),
            tuple((f, *_cells(items)) for f, items in spans.items()),
            (tuple(residual),) if residual else ())


def _settled(parts: tuple[Part, ...], field: str, value: str) -> tuple[Part, ...]:
    """``parts`` for the records whose ``field`` holds ``value``: their eq probe on
    that field is settled once here, its bucket for the value hit by every record
    (an ``any`` of the partition field and another puts such keys in the other
    table: ``any: [{country: X}, {state: Y}]``)."""
    out: list[Part] = []
    for guard, excluded, eq, prefix, ranges, always in parts:
        found = [bucket for f, buckets in eq if f == field
                 for bucket in [buckets.get(value)] if bucket is not None]
        out.append((guard, excluded, tuple((f, b) for f, b in eq if f != field), prefix,
                    ranges, (*always, *found)))
    return tuple(out)


def _prefix_table(field: str, buckets: dict[str, list[int]],
                  ) -> tuple[str, int, dict[str, tuple[int, ...]], dict[str, Bucket]]:
    """A prefix field's buckets, each merged with those of the shorter keys it starts
    with, so that a value hits one bucket: that of the longest key it starts with. A
    value's cut at the shortest key length (its stem) gives the lengths to try, longest
    first: of the keys sharing that stem only ("acme1", "acme12" under stem "acme1"),
    and one lookup turns most values away."""
    lengths = sorted({len(p) for p in buckets})
    shortest = lengths[0]
    merged: dict[str, Bucket] = {}
    under: dict[str, set[int]] = defaultdict(set)
    for key in buckets:
        shorter = (key[:n] for n in lengths if n < len(key))
        merged[key] = tuple(sorted({rank for k in (key, *shorter) for rank in buckets.get(k, ())}))
        under[key[:shortest]].add(len(key))
    stems = {sys.intern(stem): _shared(tuple(sorted(found, reverse=True)))
             for stem, found in under.items()}
    return field, shortest, stems, merged


@cache
def _shared(lengths: tuple[int, ...]) -> tuple[int, ...]:
    """One object per tuple of lengths: the stems of every table share the few there
    are, which stay in cache."""
    return lengths


def _cells(items: list[tuple[int, float, float]]) -> tuple[list[float], list[Bucket]]:
    """Cut the number line at the ranges' bounds (every ``step``-th, so that the cells
    hold at most ``_RANGE_BUDGET`` entries per range) and list, per cell, in try order,
    the ranges that meet it. A number ``x`` lies in cell ``bisect_right(bounds, x)``."""
    points = sorted({b for _, lo, hi in items for b in (lo, hi) if math.isfinite(b)})
    step = 1
    while True:
        bounds = points[::step]
        spans = [(rank, bisect_right(bounds, lo), bisect_right(bounds, hi))
                 for rank, lo, hi in items]
        # lo < bounds[0] -> cell 0; a range covers its cells from lo's to hi's, inclusive.
        if sum(b - a + 1 for _, a, b in spans) <= _RANGE_BUDGET * len(items) or len(bounds) < 4:
            break
        step *= 2
    cells: list[list[int]] = [[] for _ in range(len(bounds) + 1)]
    for rank, a, b in spans:  # items are in try order, so each cell is too
        for c in range(a, b + 1):
            cells[c].append(rank)
    return bounds, [tuple(cell) for cell in cells]
