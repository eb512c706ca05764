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
  ``(none)``, sorted after the named groups, as ``unscheduled`` is after the periods.
  Categories sort most certain first (closed, commit, best_case, pipeline), other
  groups by text ignoring case.
- Only counted opportunities are checked: a lost deal, an open one in ``omitted`` or
  one below ``minimum_probability`` gets no warning and no error for its amount or date,
  since the report does not use them. An item with an error gets no warning either:
  it is left out, so "counted as 0" or "unscheduled" would not be true.
- Won opportunities count in full whatever their category. An open opportunity in the
  category ``closed`` (not a NetSuite setup) counts from the ``closed`` rollup on,
  weighted like every open one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Literal, get_args

GroupBy = Literal["owner", "territory", "status", "category"]
PeriodKind = Literal["month", "quarter", "year"]
Category = Literal["closed", "commit", "best_case", "pipeline", "omitted"]
Outcome = Literal["won", "lost"]

GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
PERIODS: tuple[str, ...] = get_args(PeriodKind)
ROLLUPS = ("closed", "commit", "best_case", "pipeline")  # most certain first
COLUMNS = ("group", "period", "count", "amount", "weighted_amount") + ROLLUPS
NO_GROUP = "(none)"
UNSCHEDULED = "unscheduled"
CENT = Decimal("0.01")
_ZERO = Decimal(0)
_ONE = Decimal(1)

# Exact sums and products whatever the magnitudes: no rounding until output. Used through
# its methods in the loop, not as the thread's context: ``items`` may be a generator
# running the caller's code, which must keep its own context.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_ADD = _EXACT.add
_MUL = _EXACT.multiply
_AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_RANK = {"closed": 0, "commit": 1, "best_case": 2, "pipeline": 3}


@dataclass(frozen=True, slots=True)
class ForecastItem:
    """One opportunity as the forecast sees it (built by the engine)."""

    source: str  # file name, or "state" for opportunities only in the state
    row: int | None  # 1-based data row, for messages; None for state items
    id: str  # opportunity id
    owner: str | None  # the opportunity's own owner, else its customer's
    territory: str | None  # its customer's territory
    status: str  # opportunity status id
    category: Category  # forecast category of the status
    outcome: Outcome | None  # won / lost / None (open)
    probability: float  # effective probability 0-100, override included
    amount: str | None  # as written; None or blank: missing
    expected_close: str | None  # as written; None or blank: missing


@dataclass(frozen=True, slots=True)
class ForecastIssue:
    """A warning or a record error about one opportunity (SPEC §12: file and row)."""

    source: str
    row: int | None
    code: str  # no-amount, no-expected-close (warnings); bad-amount, bad-date (errors)
    message: str
    field: str  # amount | expected_close


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """One line of the report; the totals row has ``group`` and ``period`` None."""

    group: str | None
    period: str | None
    count: int
    amount: Decimal
    weighted_amount: Decimal
    closed: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal


@dataclass(frozen=True, slots=True)
class ForecastReport:
    """Rows sorted by group then period, totals row last; exact, unrounded values."""

    by: GroupBy
    period: PeriodKind
    weighted: bool
    rows: tuple[ForecastRow, ...]
    warnings: tuple[ForecastIssue, ...]
    errors: tuple[ForecastIssue, ...]

    @property
    def totals(self) -> ForecastRow:
        """The totals row (always present, zeros when nothing counts)."""
        return self.rows[-1]


def parse_amount(text: str) -> Decimal | None:
    """The exact value of amount text (module docstring), or None when unreadable."""
    text = text.strip()
    if not _AMOUNT.fullmatch(text):
        return None
    return Decimal(text.replace(",", "")) if "," in text else Decimal(text)


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
) -> ForecastReport:
    """Group and sum the opportunities as SPEC §7 says; see the module docstring."""
    if by not in GROUP_BYS:
        raise ValueError(f"by must be one of {', '.join(GROUP_BYS)}, not {by!r}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    warnings: list[ForecastIssue] = []
    errors: list[ForecastIssue] = []
    sums: dict[tuple[str, str], _Sums] = {}  # (group, period) -> sums
    factors: dict[float, Decimal] = {}  # probability -> probability/100, exact
    periods: dict[str, str | None] = {}  # date text -> period (dates repeat a lot)
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
        group = getattr(item, by) or NO_GROUP
        acc = sums.get((group, close))
        if acc is None:
            acc = sums[(group, close)] = _Sums()
        acc.count += 1
        acc.amounts[rank] = _ADD(acc.amounts[rank], amount)
        acc.weighted[rank] = _ADD(acc.weighted[rank], _MUL(amount, factor))
    keys = sorted(sums, key=_sort_key(by))
    with localcontext(_EXACT):  # only our own arithmetic runs in here
        rows = [sums[key].row(key, weighted) for key in keys]
        rows.append(_total(rows))
    return ForecastReport(by, period, weighted, tuple(rows), tuple(warnings), tuple(errors))


class _Sums:
    """Exact sums of one (group, period), per rank (closed, commit, best_case, pipeline).

    The rollups are cumulative over the ranks, so they are taken once, in ``row``.
    """

    __slots__ = ("amounts", "count", "weighted")

    def __init__(self) -> None:
        self.count = 0
        self.amounts = [_ZERO] * 4
        self.weighted = [_ZERO] * 4

    def row(self, key: tuple[str, str], weighted: bool) -> ForecastRow:
        basis = self.weighted if weighted else self.amounts
        closed = basis[0]
        commit = closed + basis[1]
        best_case = commit + basis[2]
        pipeline = best_case + basis[3]
        return ForecastRow(
            key[0], key[1], self.count, sum(self.amounts, _ZERO), sum(self.weighted, _ZERO),
            closed, commit, best_case, pipeline,
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
        amount = parse_amount(text)
        if amount is None:
            errors.append(_issue(
                item, "bad-amount", "amount",
                f"amount {text!r} is not a number (expected digits, optionally with a"
                " leading '-', ',' between thousands and a '.' decimal part)",
            ))
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
    return ForecastIssue(item.source, item.row, code, f"opportunity {item.id!r}: {what}", field)


_Key = tuple[bool, int, str, str, bool, str]


def _sort_key(by: GroupBy) -> Callable[[tuple[str, str]], _Key]:
    """Groups by text (categories most certain first), ``(none)`` and unscheduled last."""
    order = {name: rank for rank, name in enumerate(ROLLUPS + ("omitted",))}

    def key(entry: tuple[str, str]) -> _Key:
        group, close = entry
        rank = order.get(group, len(order)) if by == "category" else 0
        return (group == NO_GROUP, rank, group.casefold(), group, close == UNSCHEDULED, close)

    return key


def _total(rows: list[ForecastRow]) -> ForecastRow:
    def total(column: str) -> Decimal:
        return sum((getattr(row, column) for row in rows), Decimal(0))

    return ForecastRow(
        None, None, sum(row.count for row in rows),
        total("amount"), total("weighted_amount"),
        total("closed"), total("commit"), total("best_case"), total("pipeline"),
    )


# -- renderers ---------------------------------------------------------------


def rounded(value: Decimal) -> Decimal:
    """``value`` to cents, half up (the only rounding the forecast does); never ``-0.00``."""
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP, context=_EXACT)
    return cents.copy_abs() if cents.is_zero() else cents


def _number(value: Decimal) -> int | float:
    # Round the Decimal first, then convert: a float made from a 2-decimal number
    # prints back as that number (below 2**53 cents), with no 0.1 + 0.2 drift.
    cents = rounded(value)
    return int(cents) if cents == cents.to_integral_value() else float(cents)


def to_json(report: ForecastReport) -> list[dict[str, object]]:
    """SPEC §7's JSON: one object per row, amounts as numbers rounded to cents.

    Whole amounts are JSON integers (``1000``), others floats (``1234.56``).
    """
    return [
        {
            "group": row.group,
            "period": row.period,
            "count": row.count,
            **{name: _number(getattr(row, name)) for name in COLUMNS[3:]},
        }
        for row in report.rows
    ]


def to_csv(report: ForecastReport) -> str:
    """The same columns as CSV; amounts as ``1234.56``; totals row with empty keys."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        writer.writerow([
            row.group or "", row.period or "", row.count,
            *(f"{rounded(getattr(row, name)):f}" for name in COLUMNS[3:]),
        ])
    return out.getvalue()


def to_table(report: ForecastReport) -> str:
    """An aligned text table, amounts as ``1,234.56``, a rule above the totals row."""
    header = [report.by, "period", "count", "amount", "weighted", *ROLLUPS]
    lines = [
        [
            row.group if row.group is not None else "Total",
            row.period or "",
            str(row.count),
            *(f"{rounded(getattr(row, name)):,f}" for name in COLUMNS[3:]),
        ]
        for row in report.rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        text = [cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
                for i, cell in enumerate(cells)]
        return "  ".join(text).rstrip()

    rule = "  ".join("-" * width for width in widths)
    body = [line(cells) for cells in lines]
    return "\n".join([line(header), rule, *body[:-1], rule, body[-1]]) + "\n"
