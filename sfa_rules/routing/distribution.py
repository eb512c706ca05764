"""The distribution methods' arithmetic (SPEC §5): which eligible member of a territory
gets the next record, and the rotation state after the pick. ``Assigner`` decides who
is eligible; these only choose among them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["last_position", "least_loaded", "weighted"]

Members = Sequence[tuple[str, int]]  # (rep, weight), in declared order


def last_position(state: dict[str, Any] | None, n: int) -> int:
    """A round robin's last position (-1: none yet, or a state that no longer fits)."""
    if not state:
        return -1
    last = state.get("last", -1)
    return last if isinstance(last, int) and -1 <= last < n else -1


def least_loaded(members: Members, ok: Sequence[int], load: Callable[[str], int]) -> str:
    """The eligible member with the fewest open records (ties: declared first)."""
    best = min(ok, key=lambda i: (load(members[i][0]), i))
    return members[best][0]


def weighted(
    members: Members, ok: Sequence[int], state: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """Smooth weighted round robin (nginx): every eligible member gains its weight,
    the highest current weight wins (ties: declared first) and pays the total."""
    n = len(members)
    current = list(state["current"]) if state and len(state.get("current", ())) == n else [0] * n
    total = 0
    best = ok[0]
    for i in ok:
        current[i] += members[i][1]
        total += members[i][1]
        if current[i] > current[best]:
            best = i
    current[best] -= total
    return members[best][0], {"current": current}
