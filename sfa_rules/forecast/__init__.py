"""The forecast (SPEC §7): rollups of opportunities by group and period.

Pure and exact: the engine hands one :class:`ForecastItem` per opportunity (owner and
territory already resolved), :func:`build` sums them into a :class:`ForecastReport`
with exact ``Decimal`` values, and the renderers round to cents only at output.

Choices the SPEC leaves open:

- Amounts are plain decimal text: an optional leading ``-``, digits, optionally
  grouped by ``,`` in threes (``1,234,567``), an optional ``.`` and decimal digits.
  Surrounding blanks are ignored. No currency signs, no ``+``, no exponents, no decimal
  comma: ``1.234,50`` is ``bad-amount`` rather than a silently wrong number.
- ``expected_close`` is an ISO date, exactly ``YYYY-MM-DD`` (and a real date).
- Amounts, weighted amounts and rollups are rounded to cents, half up (what finance
  expects, unlike Python's default half-even), only when rendered; the report keeps
  the exact sums, so its totals row is exactly the sum of its group rows (rendered, a
  total may differ from the sum of its rounded rows by rounding, as in any ledger).
- An opportunity with no group value (no owner, no territory) is grouped under
  ``(none)``, sorted after the named groups, as ``unscheduled`` is after the periods;
  groups (categories too) sort by text ignoring case.
- Only counted opportunities are checked: a lost deal, an open one in ``omitted`` or
  one below ``minimum_probability`` gets no warning and no error for its amount or date,
  since the report does not use them. An item with an error gets no warning either:
  it is left out, so "counted as 0" or "unscheduled" would not be true.
- Won opportunities count in full whatever their category. An open opportunity in the
  category ``closed`` (not a NetSuite setup) counts from the ``closed`` rollup on,
  weighted like every open one.
- An amount with more than 15 digits before its decimal point (a thousand million
  million, beyond any deal, and beyond what a JSON number carries to the cent) is
  ``bad-amount``: every number the report prints is finite and exact to the cent.
- ``--by manager`` and ``--by team`` (SPEC §17): see :mod:`.groups`; an opportunity may
  count in several manager rows, and the totals row counts each opportunity once.
  Quotas and attainment: see :mod:`.quotas`; their columns are in the report (every
  format) when the configuration has a ``quotas:`` list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, localcontext

from sfa_rules.config.teams import Hierarchy
from sfa_rules.criteria.values import parse_amount, read_amount
from sfa_rules.forecast.groups import NO_GROUP, grouper
from sfa_rules.forecast.quotas import QuotaBook, attainment
from sfa_rules.forecast.render import rounded, to_csv, to_json, to_table
from sfa_rules.forecast.values import (
    CENT,
    COLUMNS,
    EXACT,
    GROUP_BYS,
    PERIODS,
    QUOTA_COLUMNS,
    ROLLUPS,
    UNSCHEDULED,
    Category,
    ForecastIssue,
    ForecastItem,
    ForecastReport,
    ForecastRow,
    GroupBy,
    Outcome,
    PeriodKind,
)

__all__ = [
    "CENT", "COLUMNS", "GROUP_BYS", "NO_GROUP", "PERIODS", "QUOTA_COLUMNS", "ROLLUPS",
    "UNSCHEDULED", "Category", "ForecastIssue", "ForecastItem", "ForecastReport",
    "ForecastRow", "GroupBy", "Hierarchy", "Outcome", "PeriodKind", "QuotaBook", "build",
    "parse_amount", "period_of", "rounded", "to_csv", "to_json", "to_table",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_EXACT = EXACT
_ADD = _EXACT.add
_MUL = _EXACT.multiply
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_RANK = {"closed": 0, "commit": 1, "best_case": 2, "pipeline": 3}


def period_of(text: str, kind: PeriodKind) -> str | None:
    """``2027-01`` / ``2027-Q1`` / ``2027`` for an ISO date, or None when unreadable."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        return None
    if kind == "month":
        return f"{year:04d}-{month:02d}"
    if kind == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"


def build(
    items: Iterable[ForecastItem],
    *,
    by: GroupBy = "owner",
    period: PeriodKind = "quarter",
    weighted: bool = True,
    minimum_probability: float = 0,
    hierarchy: Hierarchy | None = None,
    quotas: QuotaBook | None = None,
) -> ForecastReport:
    """Group and sum the opportunities as SPEC §7 says; see the module docstring.

    ``hierarchy`` (the configured reps) resolves owners named by a rep's name and
    serves ``by="manager"`` / ``"team"``; ``quotas`` adds the quota columns (§17)."""
    if by not in GROUP_BYS:
        raise ValueError(f"by must be one of {', '.join(GROUP_BYS)}, not {by!r}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    warnings: list[ForecastIssue] = []
    errors: list[ForecastIssue] = []
    sums: dict[tuple[str, str], _Sums] = {}  # (group, period) -> sums
    # Each opportunity once in the totals, though by manager it counts in many rows;
    # other groupings partition the opportunities, and their totals are the rows' sum.
    total = _Sums() if by == "manager" else None
    factors: dict[float, Decimal] = {}  # probability -> probability/100, exact
    periods: dict[str, str | None] = {}  # date text -> period (dates repeat a lot)
    groups_of = grouper(by, hierarchy)
    for item in items:
        if item.outcome == "won":
            rank, factor = 0, _ONE
        elif (
            item.outcome == "lost"
            or item.category == "omitted"
            or item.probability < minimum_probability
        ):
            continue
        else:
            rank = _RANK[item.category]
            found = factors.get(item.probability)
            factor = found if found is not None else _factor(item.probability, factors)
        amount, close = _read(item, period, periods, warnings, errors)
        if amount is None or close is None:
            continue
        share = _MUL(amount, factor)
        if total is not None:
            total.add(rank, amount, share)
        for group in groups_of(item):
            acc = sums.get((group, close))
            if acc is None:
                acc = sums[(group, close)] = _Sums()
            acc.count += 1
            acc.amounts[rank] = _ADD(acc.amounts[rank], amount)
            acc.weighted[rank] = _ADD(acc.weighted[rank], share)
    keys = sorted(sums, key=_sort_key)
    book = quotas if quotas else None
    with localcontext(_EXACT):  # only our own arithmetic runs in here
        rows = [sums[key].row(key, weighted, book, by) for key in keys]
        rows.append(total.row((None, None), weighted, None, by) if total else _total(rows))
    return ForecastReport(by, period, weighted, tuple(rows), tuple(warnings), tuple(errors),
                          quotas=book is not None)


class _Sums:
    """Exact sums of one (group, period), per rank (closed, commit, best_case, pipeline).

    The rollups are cumulative over the ranks, so they are taken once, in ``row``.
    """

    __slots__ = ("amounts", "count", "weighted")

    def __init__(self) -> None:
        self.count = 0
        self.amounts = [_ZERO] * 4
        self.weighted = [_ZERO] * 4

    def add(self, rank: int, amount: Decimal, share: Decimal) -> None:
        self.count += 1
        self.amounts[rank] = _ADD(self.amounts[rank], amount)
        self.weighted[rank] = _ADD(self.weighted[rank], share)

    def row(self, key: tuple[str | None, str | None], weighted: bool,
            quotas: QuotaBook | None, by: str) -> ForecastRow:
        basis = self.weighted if weighted else self.amounts
        closed = basis[0]
        commit = closed + basis[1]
        best_case = commit + basis[2]
        pipeline = best_case + basis[3]
        group, close = key
        quota = None
        if quotas is not None and group is not None and close is not None and group != NO_GROUP:
            quota = quotas.quota(by, group, close)
        return ForecastRow(
            group, close, self.count, sum(self.amounts, _ZERO), sum(self.weighted, _ZERO),
            closed, commit, best_case, pipeline, quota, attainment(closed, quota),
        )


def _factor(probability: float, cache: dict[float, Decimal]) -> Decimal:
    # repr() is the shortest text of a float, so 33.3 gives exactly 0.333, not its binary
    # neighbour; scaleb(-2) divides by 100 exactly.
    factor = cache[probability] = Decimal(repr(probability)).scaleb(-2, context=_EXACT)
    return factor


def _read(
    item: ForecastItem,
    kind: PeriodKind,
    periods: dict[str, str | None],
    warnings: list[ForecastIssue],
    errors: list[ForecastIssue],
) -> tuple[Decimal | None, str | None]:
    """The item's amount and period, with its warnings and errors; None: left out."""
    notes: list[ForecastIssue] = []
    found = len(errors)
    amount: Decimal | None = _ZERO
    text = item.amount
    if text is None or not text.strip():
        notes.append(_issue(item, "no-amount", "amount", "no amount: counted as 0"))
    else:
        read = read_amount(text)
        if isinstance(read, str):
            errors.append(_issue(item, "bad-amount", "amount", read))
            amount = None
        else:
            amount = read
    close: str | None = UNSCHEDULED
    text = item.expected_close
    if text is None or not text.strip():
        notes.append(_issue(
            item, "no-expected-close", "expected_close",
            f"no expected_close: counted in the period '{UNSCHEDULED}'",
        ))
    else:
        try:
            close = periods[text]
        except KeyError:
            close = periods[text] = period_of(text, kind)
        if close is None:
            errors.append(_issue(
                item, "bad-date", "expected_close",
                f"expected_close {text!r} is not a date (expected YYYY-MM-DD)",
            ))
    if len(errors) == found:
        warnings.extend(notes)
    return amount, close


def _issue(item: ForecastItem, code: str, field: str, what: str) -> ForecastIssue:
    return ForecastIssue(item.source, item.row, code, f"opportunity {item.id!r}: {what}", field,
                         item.id, item.owner or "")


def _total(rows: list[ForecastRow]) -> ForecastRow:
    def total(column: str) -> Decimal:
        return sum((getattr(row, column) for row in rows), Decimal(0))

    return ForecastRow(
        None, None, sum(row.count for row in rows),
        total("amount"), total("weighted_amount"),
        total("closed"), total("commit"), total("best_case"), total("pipeline"),
    )


_Key = tuple[bool, str, str, bool, str]


def _sort_key(entry: tuple[str, str]) -> _Key:
    """Groups by text ignoring case (SPEC §7: sorted by group, then period), ``(none)``
    and unscheduled last."""
    group, close = entry
    return (group == NO_GROUP, group.casefold(), group, close == UNSCHEDULED, close)
