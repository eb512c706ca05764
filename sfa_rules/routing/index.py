"""The buckets that file territories under their index keys (SPEC §13).

A territory is filed under every key of its chosen option (:mod:`routing.keys`), so a
record finds it through whichever key it holds; a record may find it twice and callers
deduplicate. ``Partitioned`` keeps a table per value of the partition field and writes
each partition's probes out as one generated function (``_hits_function``).
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.nodes import Node
from sfa_rules.routing.keys import (
    Guard,
    Option,
    guards,
    number_range,
)

# A guard (a value a field must not hold) shared by at least this many territories of
# a table sets them apart (at most this many guards per table).
_MIN_GUARDED = 8
_MAX_GUARDS = 4
# Numeric ranges: cells cut coarser until they hold at most this many entries per range.
_RANGE_BUDGET = 16

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
