"""Quotas and attainment in the forecast (SPEC §17).

A row's quota, by grouping: ``owner`` a rep's own (``rep:`` quotas); ``team`` the
team's (``team:``); ``manager`` the manager's own (``manager:``, or ``rep:`` on a
``sells: false`` rep, who has no quota of their own to sell against), else the sum of
the quotas of the selling reps of their whole organisation for that period (those that
have one; none of them: no quota). Other groupings, the ``unscheduled`` period and the
totals row have none.

A period's quota is its own; else taken evenly from the period around it (a quarter
gets a fourth of its year's; a month a third of its quarter's, else a twelfth of its
year's); else summed from the periods inside it when every one of them has a quota (a
quarter from its three months, a year from its four quarters, each its own or summed
from its months): quarterly quotas give a yearly one, but two quarters never pass for a
year. Attainment is ``closed / quota`` as a percentage, rounded half up to one decimal;
none without a quota or when it is 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal

from sfa_rules.config.models import Quota
from sfa_rules.config.teams import Hierarchy, parse_period

_CTX = Context(prec=60)  # ample for money: quotas and attainments are never rounded early
_TENTH = Decimal("0.1")
_HUNDRED = Decimal(100)
Target = tuple[str, str]  # ("rep" | "team" | "manager", id or team)
Parts = tuple[int, int, int]  # year, quarter, month (0: not named)


def as_decimal(value: float) -> Decimal:
    """A YAML number as the Decimal it reads as (``0.1`` is 0.1, not its binary neighbour)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


class QuotaBook:
    """The quotas of a configuration, answering per group and period (module docstring)."""

    def __init__(self, quotas: Iterable[Quota], hierarchy: Hierarchy) -> None:
        self.hierarchy = hierarchy
        self._own: dict[Target, dict[Parts, Decimal]] = {}
        for quota in quotas:
            parts = parse_period(quota.period)
            target = _target(quota)
            if parts is not None and target is not None:
                self._own.setdefault(target, {}).setdefault(parts, as_decimal(quota.amount))
        self._memo: dict[tuple[str, str, str], Decimal | None] = {}

    def __bool__(self) -> bool:
        return bool(self._own)

    def quota(self, by: str, group: str, period: str) -> Decimal | None:
        """The quota of one row of a forecast grouped ``by``; None without one."""
        key = (by, group, period)
        if key not in self._memo:
            parts = parse_period(period)
            self._memo[key] = None if parts is None else self._of_group(by, group, parts)
        return self._memo[key]

    def _of_group(self, by: str, group: str, parts: Parts) -> Decimal | None:
        if by == "owner":
            return self._of(("rep", group), parts)
        if by == "team":
            return self._of(("team", group), parts)
        if by != "manager":
            return None
        own = self._of(("manager", group), parts)
        if own is None and group in self.hierarchy.reps and not self.hierarchy.sells(group):
            own = self._of(("rep", group), parts)
        if own is not None:
            return own
        found = [q for rep in self.hierarchy.organisation(group) if self.hierarchy.sells(rep)
                 if (q := self._of(("rep", rep), parts)) is not None]
        return _CTX.add(sum(found[1:], found[0]), 0) if found else None

    def _of(self, target: Target, parts: Parts) -> Decimal | None:
        own = self._own.get(target)
        if not own:
            return None
        year, quarter, month = parts
        found = own.get(parts)
        if found is not None:
            return found
        if month:  # a third of its quarter's, else a twelfth of its year's
            above = _inner(own, (year, quarter, 0))
            if above is not None:
                return _CTX.divide(above, 3)
            whole = own.get((year, 0, 0))
            return _CTX.divide(whole, 12) if whole is not None else None
        if quarter:
            whole = own.get((year, 0, 0))
            return _CTX.divide(whole, 4) if whole is not None else _inner(own, parts)
        return _inner(own, parts)


def _inner(own: dict[Parts, Decimal], parts: Parts) -> Decimal | None:
    """A quarter's or year's own quota, else the sum of every part inside it (all needed)."""
    found = own.get(parts)
    if found is not None:
        return found
    year, quarter, month = parts
    if month:
        return None
    if quarter:
        inside = [own.get((year, quarter, m)) for m in range(quarter * 3 - 2, quarter * 3 + 1)]
    else:
        inside = [_inner(own, (year, q, 0)) for q in range(1, 5)]
    if any(value is None for value in inside):
        return None
    return sum((v for v in inside if v is not None), Decimal(0))


def attainment(closed: Decimal, quota: Decimal | None) -> Decimal | None:
    """``closed / quota`` in percent, half up to one decimal; None without a quota or at 0."""
    if quota is None or quota.is_zero():
        return None
    value = _CTX.multiply(_CTX.divide(closed, quota), _HUNDRED)
    return value.quantize(_TENTH, rounding=ROUND_HALF_UP, context=_CTX)


def _target(quota: Quota) -> Target | None:
    named = [(key, value) for key in ("rep", "team", "manager")
             if (value := getattr(quota, key)) is not None]
    return named[0] if len(named) == 1 else None
