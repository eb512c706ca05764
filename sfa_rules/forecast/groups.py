"""Which rows of the forecast an opportunity counts in (SPEC §7, §17).

``owner``, ``territory``, ``status`` and ``category`` give one group per opportunity;
``team`` the owner's team; ``manager`` every manager above the owner (the owner's
manager, that manager's manager, and so on up), so that each manager's row covers their
whole organisation, as a role-hierarchy forecast does. An owner written as a rep's name
counts as that rep (SPEC §17), in every grouping.

Choices the SPEC leaves open:

- ``--by manager``: a manager's row covers the opportunities of the reps below them,
  at any depth, not their own: a manager's own deals count for *their* managers (and
  under ``(none)`` when they have none), exactly as the SPEC's rule reads.
- An owner that is not a configured rep has no manager and no team: ``(none)``.
"""

from __future__ import annotations

from collections.abc import Callable

from sfa_rules.config.teams import Hierarchy
from sfa_rules.forecast.values import ForecastItem

NO_GROUP = "(none)"
_LIMIT = 10_000  # owners remembered; ever-new owners cannot grow the memo forever

Grouper = Callable[[ForecastItem], tuple[str, ...]]


def grouper(by: str, hierarchy: Hierarchy | None) -> Grouper:
    """A function from a forecast item to the groups it counts in (never empty)."""
    if by in ("territory", "status", "category"):
        def plain(item: ForecastItem) -> tuple[str, ...]:
            value: str | None = getattr(item, by)
            return (value or NO_GROUP,)
        return plain
    orgs = hierarchy if hierarchy is not None else Hierarchy(())
    memo: dict[str | None, tuple[str, ...]] = {}

    def of_owner(owner: str | None) -> tuple[str, ...]:
        if owner is None:
            return (NO_GROUP,)
        rep = orgs.owner(owner)
        if by == "manager":
            return orgs.managers(rep) or (NO_GROUP,)
        if by == "team":
            return (orgs.team(rep) or NO_GROUP,)
        return (rep,)

    def groups(item: ForecastItem) -> tuple[str, ...]:
        owner = item.owner
        found = memo.get(owner)
        if found is None:
            if len(memo) >= _LIMIT:
                memo.clear()
            found = memo[owner] = of_owner(owner)
        return found

    return groups
