"""Experiment (issue 13), not used by the engine: candidate territories as bit sets.

    python bench/bitset_index.py 10000      # also 100, 1000, 50000

Compares this index with the engine's (``TerritoryIndex.first_match``) on
bench/public.py's plans, facts built beforehand, and checks that both give the same
territory for every record. Measured (3,000 records, CPU): 100 territories 491k vs
497k/s; 1,000: 360k vs 148k; 10,000: 118k vs 42k; 50,000: 46k vs 17k, with 61 MiB of
sets at 50,000 (the numeric cells capped at ``MAX_CELLS``).

Bit ``r`` for the territory of rank
``r`` in try order, so that the first candidate is the lowest set bit.

Per *group* (a field read one way: its values, its prefixes, a numeric range, the
values it must not hold), each territory that requires something of that group is
filed under what it requires (:mod:`routing.keys`); one that requires nothing of it
is *free* there. A record's candidates are then one AND over the groups of the set its
own value selects (the territories it satisfies there, plus the free ones), each set
precomputed with the free ones in, so a group costs one lookup and one AND whatever
the plan's shape. Every constraint filed is necessary, never sufficient: a candidate
is still tested with its predicate.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence

from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.nodes import Node
from sfa_rules.routing.keys import group_of, guards, number_ranges, options

Probe = Callable[[Facts], int]
MAX_CELLS = 128  # per numeric field: each cell's set is as wide as the plan


class Bitsets:
    """The groups of ``nodes`` (in try order; ``active[r]`` False: never a candidate)."""

    def __init__(self, nodes: Sequence[Node], active: Sequence[bool]) -> None:
        # Ranks collected first, each set made once (``_bits``): OR-ing bit by bit
        # into an int of tens of thousands of bits copies it every time.
        everyone: list[int] = []
        eq: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        prefix: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        spans: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
        banned: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        required: dict[tuple[str, str], list[int]] = defaultdict(list)  # group -> ranks
        for rank, node in enumerate(nodes):
            if not active[rank]:
                continue
            everyone.append(rank)
            for option in options(node):
                groups = group_of(option)
                if len(groups) != 1:
                    continue  # keys of several fields (an `any`): left to the predicate
                (field, kind), = groups
                required[(field, kind)].append(rank)
                table = eq if kind == "eq" else prefix
                for _, _, value in option:
                    table[field][value].append(rank)
            for field, lo, hi in number_ranges(node):
                spans[field].append((rank, lo, hi))
            for field, values in guards(node):
                for value in values:
                    banned[field][value].append(rank)
        size = len(nodes)
        every = self.every = _bits(everyone, size)
        def sets(keys: dict[str, list[int]]) -> dict[str, int]:
            return {k: _bits(ranks, size) for k, ranks in keys.items()}

        def free(group: tuple[str, str]) -> int:
            return every & ~_bits(required[group], size)

        probes: list[Probe] = []
        for field, keys in eq.items():
            probes.append(_eq_probe(field, sets(keys), free((field, "eq"))))
        for field, keys in prefix.items():
            probes.append(_prefix_probe(field, sets(keys), free((field, "prefix"))))
        for field, items in spans.items():
            probes.append(_range_probe(field, items, every, size))
        for field, values in banned.items():
            probes.append(_guard_probe(field, sets(values), every))
        self.probes = tuple(probes)

    def candidates(self, facts: Facts) -> int:
        """The ranks (bits) that may match the record."""
        found = self.every
        for probe in self.probes:
            found &= probe(facts)
            if not found:
                break
        return found


def _bits(ranks: Sequence[int], size: int) -> int:
    """The set of ``ranks`` as an int (bit ``r`` for rank ``r``)."""
    if len(ranks) < 8:
        out = 0
        for r in ranks:
            out |= 1 << r
        return out
    raw = bytearray((size + 7) // 8)
    for r in ranks:
        raw[r >> 3] |= 1 << (r & 7)
    return int.from_bytes(raw, "little")


def _eq_probe(field: str, keys: dict[str, int], free: int) -> Probe:
    table = {value: bits | free for value, bits in keys.items()}

    def probe(facts: Facts) -> int:
        return table.get(facts.text.get(field), free)  # type: ignore[arg-type]

    return probe


def _prefix_probe(field: str, keys: dict[str, int], free: int) -> Probe:
    """The record's value holds every key it starts with: the sets of the keys along
    the way are joined once, so a value needs the lookup of its longest key only."""
    lengths = sorted({len(k) for k in keys}, reverse=True)
    table: dict[str, int] = {}
    for key in keys:
        bits = free
        for n in lengths:
            if n <= len(key):
                bits |= keys.get(key[:n], 0)
        table[key] = bits

    def probe(facts: Facts) -> int:
        value = facts.text.get(field)
        if value is None:
            return free
        for n in lengths:
            found = table.get(value[:n])
            if found is not None:
                return found
        return free

    return probe


def _range_probe(field: str, items: list[tuple[int, float, float]], every: int,
                 size: int) -> Probe:
    """The number line cut at (every ``step``-th of) the ranges' bounds, into at most
    ``MAX_CELLS`` cells; per cell, the ranges meeting it and the free ones. A number
    ``x`` lies in cell ``bisect_right(bounds, x)``; a range meets the cells from its low
    bound's to its high bound's (coarse cells: a superset, never a miss)."""
    points = sorted({b for _, lo, hi in items for b in (lo, hi) if math.isfinite(b)})
    bounds = points[::max(1, -(-len(points) // MAX_CELLS))]
    free = every & ~_bits([rank for rank, _, _ in items], size)
    enter: dict[int, list[int]] = defaultdict(list)
    leave: dict[int, list[int]] = defaultdict(list)
    for rank, lo, hi in items:
        enter[bisect_right(bounds, lo)].append(rank)  # -inf: cell 0; +inf: the last
        leave[bisect_right(bounds, hi)].append(rank)
    inside: set[int] = set()
    cells = []
    for c in range(len(bounds) + 1):  # swept: a range enters at its first cell
        inside.update(enter.get(c, ()))
        cells.append(free | _bits(sorted(inside), size))
        inside.difference_update(leave.get(c, ()))

    def probe(facts: Facts) -> int:
        value = facts.num.get(field)
        if value is None or value != value:  # no number (or NaN): no range holds it
            return free
        return cells[bisect_right(bounds, value)]

    return probe


def _guard_probe(field: str, values: dict[str, int], every: int) -> Probe:
    table = {value: every & ~bits for value, bits in values.items()}

    def probe(facts: Facts) -> int:
        return table.get(facts.text.get(field), every)  # type: ignore[arg-type]

    return probe


def main() -> None:
    import sys
    import tempfile
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import public

    from sfa_rules.config.order import try_order
    from sfa_rules.engine.core import load
    from sfa_rules.routing.territories import _full_nodes

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    items, full = public.plan(n)
    with tempfile.TemporaryDirectory() as tmp:
        public.write_plan(Path(tmp), items)
        engine = load(tmp, lifecycle_engine="native")
    index = engine.index
    nodes = _full_nodes(engine.config, engine.ctx)
    order = try_order(engine.config.territories)
    cpu = time.process_time()
    bits = Bitsets([nodes[i] for i in order], [t.active for t in index.order])
    print(f"built in {time.process_time() - cpu:.2f} s CPU")
    tests = [t.predicate.test for t in index.order]

    def first(facts: Facts, today: str) -> object:
        found = bits.candidates(facts)
        while found:
            low = found & -found
            rank = low.bit_length() - 1
            if tests[rank](facts) and (rank not in index._dated or index.order[rank].in_effect(today)):
                return index.order[rank]
            found ^= low
        return index._default_for(facts, today)

    facts = [engine.ctx.facts(r) for r in public.records(full, 3000)]
    same = sum(index.first_match(f, public.DAY) is first(f, public.DAY) for f in facts)
    print(f"same territory: {same / len(facts):.1%}")
    for name, fn in (("engine index", index.first_match), ("bit sets", first)):
        cpu = time.process_time()
        for f in facts:
            fn(f, public.DAY)
        print(f"{name:<14}{len(facts) / (time.process_time() - cpu):>12,.0f} records/s")


if __name__ == "__main__":
    main()
