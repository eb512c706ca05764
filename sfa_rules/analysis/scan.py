"""The region scans behind the criteria checks of :mod:`analysis` (SPEC §15).

``shadow_scan`` walks a list in try order and subtracts from each item's region the
regions of the items before it (found through a :class:`regions.BoxIndex`, never by
comparing every pair): what is left is the set of records the item really gets, empty
when it can never match. :class:`AmbiguityScan`, run after each territory, looks
within one priority for a later territory meeting what an earlier one really gets.

The work is bounded, in box comparisons, so the same plan always stops at the same
place: an item whose subtraction takes more than ``MAX_WORK`` is given up, named
``not-analysed`` and claimed nothing about (as a regex would be); it still counts,
exactly, for the items after it. A whole scan, the ambiguity check included, spends
at most ``limit`` (``settings.analysis_limit``): the item it runs out on and every
exact item after it are left out (``Findings.stopped``), and nothing is claimed about
them. No finding ever rests on work that was cut short.
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


class _Exhausted(Exception):
    """The scan's whole limit of box comparisons is spent."""


@dataclass
class _Budget:
    left: float  # box comparisons the scan may still make (inf: no limit)


@dataclass
class Findings:
    """What the region scan of one list (territories or overrides) proved."""

    shadowed: dict[int, list[int]] = field(default_factory=dict)  # -> the covering items
    residual: dict[int, Region] = field(default_factory=dict)  # the records it really gets
    not_analysed: dict[int, tuple[str, ...]] = field(default_factory=dict)
    ambiguous: list[tuple[int, int, dict[str, str]]] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)  # exact items past the limit, in order


def shadow_scan(order: list[int], approx: list[Approx | None], alg: Algebra,
                limit: int | None = None,
                then: Callable[[int, Findings], int] | None = None) -> Findings:
    """Subtract from each item the regions of the items tried before it, within
    ``limit`` box comparisons in all (None: no limit). ``then(i, findings)``, when
    given, runs after each item's own scan and returns the work it did (spent from
    the same limit).

    Only the boxes that add something are filed: a box whose records the items before
    it already all match (every box of a shadowed item, a box repeated from an earlier
    item) is left out of the index, which keeps the same union and so the same
    residuals, but far fewer boxes to compare later items with."""
    findings = Findings()
    index = BoxIndex()
    budget = _Budget(float("inf") if limit is None else limit)
    for i in order:
        a = approx[i]
        if a is not None and a.exact and (findings.stopped or budget.left < 0):
            findings.stopped.append(i)
            continue
        if a is not None:
            _scan_one(i, a, index, alg, budget, findings)
        if then is not None and not findings.stopped:
            budget.left -= then(i, findings)
    return findings


def _scan_one(i: int, a: Approx, index: BoxIndex, alg: Algebra, budget: _Budget,
              findings: Findings) -> None:
    """Item ``i``'s residual (or why there is none), its new boxes filed."""
    filed = a.lower
    if a.exact:
        try:
            residual, used, filed = _residual(a.upper, index, alg, budget)
            if not residual:
                findings.shadowed[i] = _irredundant(a.upper, used, index, alg)
        except _Exhausted:
            findings.stopped.append(i)
            return
        except Unknown as unknown:
            findings.not_analysed[i] = (unknown.reason,)
            filed = a.lower
        else:
            findings.residual[i] = residual
    else:
        findings.not_analysed[i] = a.reasons
    for box in filed:
        index.add(box, i)


def _residual(region: Region, index: BoxIndex, alg: Algebra,
              budget: _Budget) -> tuple[Region, list[int], Region]:
    """What is left of ``region`` after the filed boxes, the positions of the boxes that
    took something from it, and the boxes of ``region`` with something left.

    Each box of ``region`` is subtracted on its own, from the filed boxes that may meet
    it, until nothing is left of it. The work (box comparisons) is capped at
    ``MAX_WORK``: beyond it :class:`TooComplex` is raised and the item is not analysed
    (nothing is claimed about it; its region is still filed, as it is exact). Past
    what the scan has left (``budget``, which pays for the work done), :class:`_Exhausted`
    is raised."""
    residual: Region = []
    used: set[int] = set()
    kept: Region = []
    work = 0
    stop = min(MAX_WORK, budget.left)
    boxes = index.boxes
    try:
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
                if work > stop:
                    if work > MAX_WORK:
                        raise TooComplex(f"it overlaps too many earlier criteria to analyse "
                                         f"(more than {MAX_WORK:,} comparisons)")
                    raise _Exhausted
            if rest:
                kept.append(box)
                residual += alg.merge(rest)
    finally:
        budget.left -= work
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


MATCH_WORK = 10  # an example record checked against a territory, in box comparisons


class AmbiguityScan:
    """Pairs at one priority that both match a record no earlier territory takes, each
    with an example; ``matches`` checks it against the inexact territories before them.

    Run one territory at a time, in try order, as :func:`shadow_scan`'s ``then``: each
    territory is checked against the earlier ones right after its own residual is
    known, so that both scans share one limit and stop at the same territory."""

    def __init__(self, territories: tuple[Territory, ...], order: list[int],
                 approx: list[Approx | None], regions: Regions,
                 matches: Callable[[dict[str, str]], Callable[[int], bool]]) -> None:
        self.territories = territories
        self.approx = approx
        self.regions = regions
        self.matches = matches
        self.ancestors = _ancestors(territories)
        self.rank = {i: r for r, i in enumerate(order)}
        # The inexact territories, by their upper regions: only those whose upper
        # region meets an example's box can match it (the record's date aside, which
        # an example reads from `created`), so only those are checked one by one.
        self.inexact = BoxIndex()
        self.group = BoxIndex()
        self.priority: int | None = None

    def __call__(self, b: int, findings: Findings) -> int:
        """Check territory ``b`` against the earlier ones of its priority; the work."""
        if self.territories[b].priority != self.priority:
            self.group, self.priority = BoxIndex(), self.territories[b].priority
        ab = self.approx[b]
        if ab is None:
            return 0
        if b in findings.not_analysed:
            for box in ab.upper:
                self.inexact.add({f: m for f, m in box.items() if f not in _DATES}, b)
        if b not in findings.residual or b in findings.shadowed:
            return 0
        work = 0
        alg, group, residual = self.regions.algebra, self.group, findings.residual
        seen: set[int] = set()
        for k in group.query(ab.upper):
            a = group.owners[k]
            if a in seen or a in self.ancestors[b] or b in self.ancestors[a]:
                continue
            seen.add(a)
            work += len(residual[a]) * len(ab.upper)
            for box in alg.both(residual[a], ab.upper):
                example = self.regions.witness(box)
                taken, tried = self._taken(box, self.rank[a], example)
                work += MATCH_WORK * tried
                if not taken:
                    findings.ambiguous.append((a, b, example))
                    break
        for box in residual[b]:
            group.add(box, b)
        return work

    def _taken(self, box: Box, limit: int, example: dict[str, str]) -> tuple[bool, int]:
        """Does an inexact territory tried before rank ``limit`` match ``example`` (a
        record of ``box``)? And how many were tried."""
        seen: set[int] = set()
        rank, inexact = self.rank, self.inexact
        matches: Callable[[int], bool] | None = None
        for k in inexact.meeting({f: m for f, m in box.items() if f not in _DATES}):
            j = inexact.owners[k]
            if rank[j] >= limit:
                break  # filed in try order: the rest come later still
            if j not in seen:
                seen.add(j)
                if matches is None:  # the example's facts, built once for all of them
                    matches = self.matches(example)
                if matches(j):
                    return True, len(seen)
        return False, len(seen)


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
