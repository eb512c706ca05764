"""The distribution methods' arithmetic (SPEC §5): which eligible member of a territory
gets the next record, and the rotation state after the pick. ``Assigner`` decides who
is eligible; these only choose among them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["last_position", "least_loaded", "restart_reason", "weighted"]

Members = Sequence[tuple[str, int]]  # (rep, weight), in declared order


def last_position(state: dict[str, Any] | None, n: int) -> int:
    """A round robin's last position (-1: none yet, or a state that no longer fits)."""
    if not state:
        return -1
    last = state.get("last", -1)
    return last if isinstance(last, int) and -1 <= last < n else -1


def restart_reason(state: dict[str, Any] | None, sig: Any, distribution: str) -> str | None:
    """Why a territory's stored rotation no longer applies (said in the run's summary),
    or None. A round robin goes on from a weighted one's last pick; a weighted rotation
    cannot go on from a round robin's, which holds no current weights."""
    if state is None:
        return None
    if state.get("sig") != sig:
        return "members changed"
    if distribution == "weighted" and "last" in state and "current" not in state:
        return "distribution changed"
    return None


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
    return members[best][0], {"current": current, "last": best}  # last: for a round robin
