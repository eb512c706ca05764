"""The region scans behind the criteria checks of :mod:`analysis` (SPEC §15).

``shadow_scan`` walks a list in try order and subtracts from each item's region the
regions of the items before it (found through a :class:`regions.BoxIndex`, never by
comparing every pair): what is left is the set of records the item really gets, empty
when it can never match. ``ambiguity_scan`` then looks, within one priority, for a
later territory meeting what an earlier one really gets.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

from .atoms import Unknown
from .models import Territory
from .regions import Algebra, Approx, BoxIndex, Region, Regions, TooComplex

MAX_PRUNE = 24  # beyond this many covering items, all are named (pruning is quadratic)
MAX_WORK = 1_000_000  # box comparisons for one item's residual; beyond, it is not analysed


@dataclass
class Findings:
    """What the region scan of one list (territories or overrides) proved."""

    shadowed: dict[int, list[int]] = field(default_factory=dict)  # -> the covering items
    residual: dict[int, Region] = field(default_factory=dict)  # the records it really gets
    not_analysed: dict[int, tuple[str, ...]] = field(default_factory=dict)
    ambiguous: list[tuple[int, int, dict[str, str]]] = field(default_factory=list)


def try_order(territories: tuple[Territory, ...]) -> list[int]:
    """Non-default territories in try order: priority, then file order, a child at its
    parent's priority just before it (SPEC §4). ``territories`` sits above this module,
    so the rule is restated here; a test keeps the two in step."""
    first = {t.id: i for i, t in reversed(list(enumerate(territories)))}
    children: dict[int, list[int]] = {}
    for i, t in enumerate(territories):
        p = first.get(t.parent) if t.parent is not None else None
        if p is not None and territories[p].priority == t.priority:
            children.setdefault(p, []).append(i)
    out: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i not in seen:
            seen.add(i)
            for child in children.get(i, ()):
                visit(child)
            out.append(i)

    for i in sorted(range(len(territories)), key=lambda i: territories[i].priority):
        visit(i)
    return [i for i in out if not territories[i].default]


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
        for k in index.meeting(box):
            work += len(rest)
            cut = alg.cut(rest, boxes[k])
            if cut is not None:
                rest = cut
                used.add(k)
                if not rest:
                    break
            if work > MAX_WORK:
                raise TooComplex(f"it overlaps too many earlier criteria to analyse "
                                 f"(more than {MAX_WORK:,} comparisons)")
        if rest:
            kept.append(box)
            residual += rest
    return alg.bounded(residual), sorted(used), kept


def _irredundant(region: Region, used: list[int], index: BoxIndex, alg: Algebra) -> list[int]:
    """The items whose boxes cover ``region``, each one needed: the message names the
    territories that really shadow, not every one that overlaps."""
    owners = list(dict.fromkeys(index.owners[k] for k in used))
    if len(owners) > MAX_PRUNE:
        return owners
    boxes = {o: [index.boxes[k] for k in used if index.owners[k] == o] for o in owners}
    for owner in list(owners):
        others = [b for o in owners if o != owner for b in boxes[o]]
        if not alg.minus(region, others):
            owners.remove(owner)
    return owners


def ambiguity_scan(territories: tuple[Territory, ...], order: list[int],
                   approx: list[Approx | None], regions: Regions, findings: Findings,
                   matches: Callable[[int, dict[str, str]], bool]) -> None:
    """Pairs at one priority that both match a record no earlier territory takes, each
    with an example; ``matches`` checks it against the inexact territories before them."""
    alg = regions.algebra
    ancestors = _ancestors(territories)
    rank = {i: r for r, i in enumerate(order)}
    inexact = [i for i in order if approx[i] is not None and i in findings.not_analysed]
    inexact_ranks = [rank[i] for i in inexact]
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
            before = inexact[:bisect_left(inexact_ranks, rank[a])]
            for box in alg.both(findings.residual[a], ab.upper):
                example = regions.witness(box)
                if not any(matches(j, example) for j in before):
                    findings.ambiguous.append((a, b, example))
                    break
        for box in findings.residual[b]:
            group.add(box, b)


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
