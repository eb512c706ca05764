"""The orders the configuration defines: the rank of each stage (SPEC §6: a transition
never lowers it) and the try order of territories (SPEC §4).

Routing tries territories in this order and the static analysis (SPEC §15) proves
shadowing and ambiguity in the same order; the lifecycle evaluators (native and
durable-rules) and the status analysis compare stages by the same rank: all take them
from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sfa_rules.config.models import STAGES, Territory

__all__ = ["STAGE_RANK", "STAGES_BY_RANK", "try_order"]

STAGE_RANK: dict[str, int] = {stage: rank for rank, stage in enumerate(STAGES)}
STAGES_BY_RANK: dict[int, str] = dict(enumerate(STAGES))


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
