"""The region scans behind the criteria checks of :mod:`analysis` (SPEC §15).

``shadow_scan`` walks a list in try order and subtracts from each item's region the
regions of the items before it (found through a :class:`regions.BoxIndex`, never by
comparing every pair): what is left is the set of records the item really gets, empty
when it can never match. ``ambiguity_scan`` then looks, within one priority, for a
later territory meeting what an earlier one really gets.

The work is bounded: an item whose subtraction takes more than ``MAX_WORK`` box
comparisons is given up, named ``not-analysed`` and claimed nothing about (as a regex
would be); it still counts, exactly, for the items after it. No finding ever rests on
work that was cut short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sfa_rules.analysis.atoms import DATE_FIELD, Unknown
from sfa_rules.analysis.regions import Algebra, Approx, Box, BoxIndex, Region, Regions, TooComplex
from sfa_rules.config.models import Territory

MAX_PRUNE = 24  # beyond this many covering items, all are named (pruning is quadratic)
_DATES = (DATE_FIELD, "created")  # the record's date, read from `created` by examples
MERGE_AT = 32  # a residual cut into more boxes than this is merged (regions.Algebra.merge)
MAX_WORK = 1_000_000  # box comparisons for one item's residual; beyond, it is not analysed


@dataclass
class Findings:
    """What the region scan of one list (territories or overrides) proved."""

    shadowed: dict[int, list[int]] = field(default_factory=dict)  # -> the covering items
    residual: dict[int, Region] = field(default_factory=dict)  # the records it really gets
    not_analysed: dict[int, tuple[str, ...]] = field(default_factory=dict)
    ambiguous: list[tuple[int, int, dict[str, str]]] = field(default_factory=list)


def shadow_scan(order: list[int], approx: list[Approx | None], alg: Algebra) -> Findings:
    """Subtract from each item the regions of the items tried before it.

    Only the boxes that add something are filed: a box whose records the items before
    it already all match (every box of a shadowed item, a box repeated from an earlier
    item) is left out of the index, which keeps the same union and so the same
    residuals, but far fewer boxes to compare later items with."""
    findings = Findings()
    index = BoxIndex()
    for i in order:
        a = approx[i]
        if a is None:
            continue
        filed = a.lower
        if a.exact:
            try:
                residual, used, filed = _residual(a.upper, index, alg)
                if not residual:
                    findings.shadowed[i] = _irredundant(a.upper, used, index, alg)
            except Unknown as unknown:
                findings.not_analysed[i] = (unknown.reason,)
                filed = a.lower
            else:
                findings.residual[i] = residual
        else:
            findings.not_analysed[i] = a.reasons
        for box in filed:
            index.add(box, i)
    return findings


def _residual(region: Region, index: BoxIndex, alg: Algebra) -> tuple[Region, list[int], Region]:
    """What is left of ``region`` after the filed boxes, the positions of the boxes that
    took something from it, and the boxes of ``region`` with something left.

    Each box of ``region`` is subtracted on its own, from the filed boxes that may meet
    it, until nothing is left of it. The work (box comparisons) is capped at
    ``MAX_WORK``: beyond it :class:`TooComplex` is raised and the item is not analysed
    (nothing is claimed about it; its region is still filed, as it is exact)."""
    residual: Region = []
    used: set[int] = set()
    kept: Region = []
    work = 0
    boxes = index.boxes
    for box in region:
        rest: Region = [box]
        limit = MERGE_AT
        for k in index.meeting(box):
            work += len(rest)
            cut = alg.cut(rest, boxes[k])
            if cut is not None:
                rest = cut
                used.add(k)
                if not rest:
                    break
                if len(rest) > limit:
                    rest = alg.merge(rest)
                    limit = max(MERGE_AT, 2 * len(rest))
            if work > MAX_WORK:
                raise TooComplex(f"it overlaps too many earlier criteria to analyse "
                                 f"(more than {MAX_WORK:,} comparisons)")
        if rest:
            kept.append(box)
            residual += alg.merge(rest)
    return alg.bounded(residual), sorted(used), kept


def _irredundant(region: Region, used: list[int], index: BoxIndex, alg: Algebra) -> list[int]:
    """The items whose boxes cover ``region``, each one needed: the message names the
    territories that really shadow, not every one that overlaps.

    In order, an item is dropped when the items kept before it and all the items after
    it still cover ``region``. What the items after each one leave of ``region`` is
    worked out once, from the last item back, so each test only subtracts the kept
    items from that (usually small) rest instead of redoing the whole subtraction."""
    owners = list(dict.fromkeys(index.owners[k] for k in used))
    if len(owners) > MAX_PRUNE:
        return owners
    boxes = {o: [index.boxes[k] for k in used if index.owners[k] == o] for o in owners}
    after: list[Region] = [region] * len(owners)  # region minus the items after each one
    for n in range(len(owners) - 1, 0, -1):
        after[n - 1] = alg.minus(after[n], boxes[owners[n]])
    kept: list[int] = []
    for n, owner in enumerate(owners):
        rest = after[n]
        for o in kept:
            if not rest:
                break
            rest = alg.minus(rest, boxes[o])
        if rest:
            kept.append(owner)
    return kept


def ambiguity_scan(territories: tuple[Territory, ...], order: list[int],
                   approx: list[Approx | None], regions: Regions, findings: Findings,
                   matches: Callable[[int, dict[str, str]], bool]) -> None:
    """Pairs at one priority that both match a record no earlier territory takes, each
    with an example; ``matches`` checks it against the inexact territories before them."""
    alg = regions.algebra
    ancestors = _ancestors(territories)
    rank = {i: r for r, i in enumerate(order)}
    # The inexact territories, by their upper regions: only those whose upper region
    # meets an example's box can match it (the record's date aside, which an example
    # reads from `created`), so only those are checked record by record.
    inexact = BoxIndex()
    for i in order:
        ai = approx[i]
        if ai is not None and i in findings.not_analysed:
            for box in ai.upper:
                inexact.add({f: m for f, m in box.items() if f not in _DATES}, i)
    group: BoxIndex | None = None
    priority: int | None = None
    for b in order:
        if territories[b].priority != priority:
            group, priority = BoxIndex(), territories[b].priority
        assert group is not None
        ab = approx[b]
        if ab is None or b not in findings.residual or b in findings.shadowed:
            continue
        seen: set[int] = set()
        for k in group.query(ab.upper):
            a = group.owners[k]
            if a in seen or a in ancestors[b] or b in ancestors[a]:
                continue
            seen.add(a)
            for box in alg.both(findings.residual[a], ab.upper):
                example = regions.witness(box)
                if not _taken(inexact, box, rank, rank[a], example, matches):
                    findings.ambiguous.append((a, b, example))
                    break
        for box in findings.residual[b]:
            group.add(box, b)


def _taken(inexact: BoxIndex, box: Box, rank: dict[int, int], limit: int,
           example: dict[str, str], matches: Callable[[int, dict[str, str]], bool]) -> bool:
    """Does an inexact territory tried before rank ``limit`` match ``example`` (a
    record of ``box``)?"""
    seen: set[int] = set()
    for k in inexact.meeting({f: m for f, m in box.items() if f not in _DATES}):
        j = inexact.owners[k]
        if rank[j] >= limit:
            break  # filed in try order: the rest come later still
        if j not in seen:
            seen.add(j)
            if matches(j, example):
                return True
    return False


def _ancestors(territories: tuple[Territory, ...]) -> list[set[int]]:
    first = {t.id: i for i, t in reversed(list(enumerate(territories)))}
    out: list[set[int]] = []
    for t in territories:
        found: set[int] = set()
        p = first.get(t.parent) if t.parent is not None else None
        while p is not None and p not in found:
            found.add(p)
            parent = territories[p].parent
            p = first.get(parent) if parent is not None else None
        out.append(found)
    return out
