"""Candidate territories as bit sets: one AND per field, whatever the plan's shape.

Bit ``i`` of a set stands for the ``i``-th territory in try order, so the first
candidate is the lowest set bit. Per *group* (a field read one way: its values, its
prefixes, its numeric range, the values it must not hold; or an ``any`` across
fields) each territory that requires something of the group is filed under what it
requires (:mod:`routing.keys`); one that requires nothing of it is *free* there. A
record's candidates are the AND, over the groups, of the set its own value selects:
the territories it satisfies there plus the free ones, precomputed together, so a
group costs one lookup and one AND. Every constraint filed is necessary, not
sufficient: the caller still tests a candidate unless its keys prove it (``exact``).

Sets are as wide as their highest bit, so the territories are partitioned by the
value of the field most of them require (``country``): a record looks in the part of
its value and in the part of the territories not requiring the field, each that
much narrower than the plan. Past a memory budget, a key few territories hold is kept as a
tuple of positions, not a set: a record holding it gets them as *extra* candidates,
tested one by one, and the group's free set in the AND, so every territory that may
match is in the set or among the extras.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.nodes import Node
from sfa_rules.routing.keys import (
    Group,
    Guard,
    Option,
    Range,
    finite,
    group_of,
    guards,
    implied,
    number_ranges,
    options,
)

Positions = tuple[int, ...]  # in a part, in try order
Candidates = tuple[int, Sequence[Positions]]  # a set, and the extras
# A key is listed, not a set, when fewer territories hold it than this, doubled from
# 1 until a part's sets fit in its share of BUDGET bytes.
SPARSE = 1
BUDGET = 64 << 20
# Cells of the number line per numeric field (each cell's set is as wide as the part):
# as many as the part's share of the budget holds, within these.
MIN_CELLS, MAX_CELLS = 128, 1 << 16


@dataclass(frozen=True, slots=True)
class Filing:
    """What one territory is filed under: one option per group, ranges, guards."""

    options: tuple[Option, ...]
    ranges: tuple[Range, ...]
    guards: tuple[Guard, ...]


def filing(node: Node) -> Filing:
    """The keys, ranges and guards of a territory's full criteria. Two options of one
    group would be filed as either one, so only the first is."""
    kept: dict[frozenset[Group], Option] = {}
    for option in options(node):
        kept.setdefault(frozenset(group_of(option)), option)
    return Filing(tuple(kept.values()), tuple(number_ranges(node)), tuple(guards(node)))


class BitIndex:
    """The parts of the territories of ``nodes`` (full criteria, in try order) that
    are ``active``: ``parts_of(facts)`` are those to look a record up in."""

    def __init__(self, nodes: Sequence[Node], active: Sequence[bool]) -> None:
        filings = {rank: filing(nodes[rank]) for rank in range(len(nodes)) if active[rank]}
        # The field most territories require a value of, alone (not in an `any`).
        values: dict[int, Option] = {}
        usage: Counter[str] = Counter()
        for f in filings.values():
            usage.update(field for o in f.options for field, kind in group_of(o)
                         if kind == "eq" and len(group_of(o)) == 1)
        self.field = usage.most_common(1)[0][0] if usage else ""
        for rank, f in filings.items():
            values.update((rank, o) for o in f.options if group_of(o) == {(self.field, "eq")})
        by_value: dict[str, list[int]] = defaultdict(list)
        for rank, option in values.items():
            for _, _, value in option:
                by_value[value].append(rank)
        rest = [rank for rank in filings if rank not in values]
        if len(by_value) < 2:
            by_value, rest = {}, list(filings)
        total = sum(map(len, by_value.values())) + len(rest)
        compiled: dict[str, Callable[..., Callable[[Facts, int], Candidates]]] = {}

        def part(ranks: list[int], settled: str | None) -> Part:
            return Part(sorted(ranks), nodes, filings, settled,
                        BUDGET * len(ranks) // max(total, 1), compiled)

        rest_part = part(rest, None)
        self.rest: tuple[Part, ...] = (rest_part,)
        # A record holding a value looks in its part and in the rest.
        self.parts = {value: (part(ranks, self.field), rest_part)
                      for value, ranks in by_value.items()}

    def parts_of(self, facts: Facts) -> tuple[Part, ...]:
        """The parts a record's candidates are in."""
        return self.parts.get(facts.text.get(self.field), self.rest)  # type: ignore[arg-type]


class Part:
    """The candidate sets of some territories (``ranks``: theirs in try order; bit
    ``i`` stands for ``ranks[i]``). ``settled``: a field whose value the part's
    records all hold, so that no territory requiring it need be filtered by it.
    ``exact``: the positions that a set (not the extras) proves to match."""

    def __init__(self, ranks: list[int], nodes: Sequence[Node], filings: dict[int, Filing],
                 settled: str | None, budget: int,
                 compiled: dict[str, Callable[..., Callable[[Facts, int], Candidates]]]) -> None:
        self.ranks = tuple(ranks)
        size = len(ranks)
        tables: dict[frozenset[Group], dict[Group, dict[str, list[int]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list)))
        spans: dict[str, list[tuple[int, Range]]] = defaultdict(list)
        banned: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, rank in enumerate(ranks):
            f = filings[rank]
            for option in f.options:
                groups = frozenset(group_of(option))
                if groups != {(settled, "eq")}:
                    for field, kind, value in option:
                        tables[groups][(field, kind)][value].append(i)
            for bound in f.ranges:
                spans[bound.field].append((i, bound))
            for field, values in f.guards:
                for value in values:
                    banned[field][value].append(i)
        for members in tables.values():
            for group in members:
                if group[1] == "prefix":
                    members[group] = _merged(members[group])
        sparse = _threshold([len(p) for members in tables.values() for keys in members.values()
                             for p in keys.values()]
                            + [len(p) for keys in banned.values() for p in keys.values()],
                            size, budget)
        every = _bits(range(size), size)
        plan: list[Group_] = []
        for members in sorted(tables.values(), key=len):  # one field first, then `any`s
            positions = sorted({i for keys in members.values() for p in keys.values() for i in p})
            free = every & ~_bits(positions, size)
            keys = [_keyed(field, kind, by_key, free if len(members) == 1 else 0, sparse, size)
                    for (field, kind), by_key in members.items()]
            plan.append(("key", keys[0]) if len(keys) == 1 else ("either", keys, free))
        ranged = _ranged(spans, every, size, budget, plan)
        proven: dict[str, set[str]] = defaultdict(set)  # guard values that are sets
        for field, by_value in banned.items():
            sets = {v: every & ~_bits(p, size) for v, p in by_value.items() if len(p) >= sparse}
            proven[field] = set(sets)
            if sets:
                plan.append(("guard", field, sets))
        self.every = every
        self.candidates = _generated(plan, compiled)
        # Proven by a set: every conjunct is a keyed test (eq, in, prefix) or an `any`
        # of them whose option is filed, a guard whose values are all sets, or a
        # numeric bound the cells of its field hold exactly.
        self.exact = frozenset(
            i for i, rank in enumerate(ranks)
            if implied(nodes[rank], filings[rank].options,
                       [g for g in filings[rank].guards if g[1] <= proven[g[0]]],
                       ranged.get(i, ())))


# How a part reads one group, as ``_generated`` writes it out: ("key", Keyed),
# ("either", [Keyed], free), ("range", field, bounds, cells), ("guard", field, sets).
Group_ = tuple[Any, ...]
# (field, kind, sets by key with the free ones in, listed keys, key lengths longest
# first (prefix), free): the record's key's set, else the free one.
Keyed = tuple[str, str, dict[str, int], dict[str, Positions], tuple[int, ...], int]


def _keyed(field: str, kind: str, by_key: dict[str, list[int]], free: int, sparse: int,
           size: int) -> Keyed:
    dense = {k: _bits(p, size) | free for k, p in by_key.items() if len(p) >= sparse}
    listed = {k: tuple(p) for k, p in by_key.items() if len(p) < sparse}
    lengths = tuple(sorted({len(k) for k in by_key}, reverse=True)) if kind == "prefix" else ()
    return field, kind, dense, listed, lengths, free


def _generated(plan: list[Group_],
               compiled: dict[str, Callable[..., Callable[[Facts, int], Candidates]]],
               ) -> Callable[[Facts, int], Candidates]:
    """``candidates(facts, found)`` for ``plan``: ``found`` (the positions looked at)
    ANDed with each group's set, written out group by group: a loop over probe
    functions cost more than the lookups and ANDs themselves. Field names and key
    lengths are literals (``repr`` of str and int); sets and tables are the factory's
    arguments, compiled once per shape (``compiled``)::

        def make(a0, a1):
            def candidates(f, found):
                x = f.text
                v = x.get('state')
                s = a0.get(v)
                if s is None:
                    s = a1
                found &= s
                if not found:
                    return found, ()
                ...
                return found, ()
            return candidates
    """
    args: list[object] = []

    def arg(value: object) -> str:
        args.append(value)
        return f"a{len(args) - 1}"

    listing = any(g[0] in ("key", "either") and any(k[3] for k in _keys_of(g)) for g in plan)
    extra = "extra" if listing else "()"
    done = ["if not found:", f"    return found, {extra}"]
    lines: list[str] = []
    for g in plan:
        if g[0] == "key" and not g[1][3] and g[1][1] == "eq":  # no listed keys
            field, _, dense, _, _, free = g[1]
            lines += [f"found &= {arg(dense)}.get(x.get({field!r}), {arg(free)})", *done]
        elif g[0] == "key":
            lines += _lookup(g[1], arg(g[1][5]), arg) + ["found &= s", *done]
        elif g[0] == "either":
            lines.append(f"e = {arg(g[2])}")
            for keyed in g[1]:
                lines += _lookup(keyed, "0", arg) + ["e |= s"]
            lines += ["found &= e", *done]
        elif g[0] == "range":
            _, field, bounds, cells, free = g
            b = arg(bounds)
            lines += [f"v = f.num.get({field!r})",
                      "if v is not None and v == v:",
                      f"    j = bisect_right({b}, v)",
                      f"    found &= {arg(cells)}[j + j - (j > 0 and {b}[j - 1] == v)]",
                      "else:",
                      f"    found &= {arg(free)}", *done]
        else:
            _, field, sets = g
            lines += [f"s = {arg(sets)}.get(x.get({field!r}))",
                      "if s is not None:",
                      "    found &= s",
                      *("    " + line for line in done)]
    source = "\n".join([f"def make({', '.join(f'a{i}' for i in range(len(args)))}):",
                        "    def candidates(f, found):",
                        "        x = f.text",
                        *(["        extra = []"] if listing else []),
                        *("        " + line for line in lines),
                        f"        return found, {extra}",
                        "    return candidates"])
    if source not in compiled:
        namespace: dict[str, Any] = {"bisect_right": bisect_right}
        exec(compile(source, "<territory index>", "exec"), namespace)  # noqa: S102 - see docstring
        compiled[source] = namespace["make"]
    return compiled[source](*args)


def _keys_of(g: Group_) -> list[Keyed]:
    return [g[1]] if g[0] == "key" else list(g[1])


def _lookup(keyed: Keyed, default: str, arg: Callable[[object], str]) -> list[str]:
    """Lines setting ``s`` to the set of the key the record holds, else ``default``;
    a listed key's positions go to ``extra``."""
    field, kind, dense, listed, lengths, _ = keyed
    if kind == "eq":
        lines = [f"v = x.get({field!r})", f"s = {arg(dense)}.get(v)", "if s is None:",
                 f"    s = {default}"]
        if listed:
            lines += [f"    t = {arg(listed)}.get(v)", "    if t is not None:",
                      "        extra.append(t)"]
        return lines
    test = "v is not None"
    if len(lengths) > 1:
        # Most values start with no key: the stems (each key cut to the shortest key's
        # length) turn them away with one lookup, not one per key length.
        shortest = lengths[-1]
        test += f" and v[:{shortest}] in {arg(frozenset(k[:shortest] for k in (*dense, *listed)))}"
    lines = [f"v = x.get({field!r})", f"s = {default}", f"if {test}:",
             f"    for n in {lengths!r}:",
             f"        t = {arg(dense)}.get(v[:n])",
             "        if t is not None:",
             "            s = t",
             "            break"]
    if listed:
        lines += [f"        t = {arg(listed)}.get(v[:n])",
                  "        if t is not None:",
                  "            extra.append(t)",
                  "            break"]
    return lines


def _merged(keys: dict[str, list[int]]) -> dict[str, list[int]]:
    """Each prefix key's positions joined with those of the shorter keys it starts
    with: a value starting with a key starts with them too."""
    lengths = sorted({len(k) for k in keys})
    return {key: sorted({i for n in lengths if n <= len(key) for i in keys.get(key[:n], ())})
            for key in keys}


def _threshold(counts: list[int], size: int, budget: int) -> int:
    """The fewest territories a key needs to be a set: ``SPARSE``, doubled until the
    sets (at most ``size`` bits each) fit in ``budget`` bytes."""
    sparse = SPARSE
    while sum(c >= sparse for c in counts) * (size // 8 + 32) > budget:
        sparse *= 2
    return sparse


def _bits(positions: Sequence[int] | range, size: int) -> int:
    """The set of ``positions`` as an int, built at once: OR-ing bit by bit into an
    int of tens of thousands of bits copies it every time."""
    if len(positions) < 8:
        out = 0
        for i in positions:
            out |= 1 << i
        return out
    if isinstance(positions, range) and positions == range(size):
        return (1 << size) - 1
    raw = bytearray((size + 7) // 8)
    for i in positions:
        raw[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(raw, "little")


def _ranged(spans: dict[str, list[tuple[int, Range]]], every: int, size: int, budget: int,
            plan: list[Group_]) -> dict[int, set[str]]:
    """Adds a "range" group per numeric field to ``plan``; per position, the fields
    whose range the cells hold exactly."""
    ranged: dict[int, set[str]] = defaultdict(set)
    for field, items in spans.items():
        bounds, cells, free, exact = _cells(items, every, size, budget)
        plan.append(("range", field, bounds, cells, free))
        for i in exact:
            ranged[i].add(field)
    return ranged


def _cells(items: list[tuple[int, Range]], every: int, size: int, budget: int,
           ) -> tuple[list[float], list[int], int, list[int]]:
    """The number line cut at the ranges' bounds (every ``step``-th of them past the
    part's share of the budget) into cells, each cut alone and the open spans between;
    per cell, the ranges meeting it and the free ones; the free ones; and the
    positions whose range the cells hold exactly (both bounds are cuts: a range meets
    every cell it overlaps, so coarse cells give more candidates, never fewer). A
    number ``x`` lies in cell ``2j - (x == bounds[j-1])`` for ``j = bisect_right(bounds,
    x)``; a record with no number (or NaN) in no range."""
    points = sorted({b for _, r in items for b in (r.low, r.high) if finite(b)})
    most = min(MAX_CELLS, max(MIN_CELLS, budget // (size // 8 + 32))) // 2
    bounds = points[::max(1, -(-len(points) // most))]
    free = every & ~_bits([i for i, _ in items], size)
    enter: dict[int, list[int]] = defaultdict(list)
    leave: dict[int, list[int]] = defaultdict(list)
    exact = []
    last_cell = 2 * len(bounds)
    for i, r in items:
        first, low_cut = _cell(bounds, r.low, 0)
        last, high_cut = _cell(bounds, r.high, last_cell)
        first += low_cut and r.low_strict
        last -= high_cut and r.high_strict
        if first <= last:
            enter[first].append(i)
            leave[last + 1].append(i)
        if r.exact and low_cut and high_cut:
            exact.append(i)
    inside = 0
    cells = []
    for c in range(last_cell + 1):  # swept: a range enters at its first cell
        if c in leave:
            inside &= ~_bits(leave[c], size)
        if c in enter:
            inside |= _bits(enter[c], size)
        cells.append(free | inside)
    return bounds, cells, free, exact


def _cell(bounds: list[float], x: float, infinite: int) -> tuple[int, bool]:
    """The cell of ``x`` (``infinite`` for ±inf) and whether ``x`` is a cut."""
    if not finite(x):  # a missing bound (a Range's bounds are finite or ±inf)
        return infinite, True
    j = bisect_right(bounds, x)
    cut = j > 0 and bounds[j - 1] == x
    return 2 * j - cut, cut
