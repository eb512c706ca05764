"""The values of the forecast (SPEC §7, §17): items in, rows and issues out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Literal, get_args

GroupBy = Literal["owner", "territory", "status", "category", "manager", "team"]
PeriodKind = Literal["month", "quarter", "year"]
Category = Literal["closed", "commit", "best_case", "pipeline", "omitted"]
Outcome = Literal["won", "lost"]

GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
PERIODS: tuple[str, ...] = get_args(PeriodKind)
ROLLUPS = ("closed", "commit", "best_case", "pipeline")  # most certain first
COLUMNS = ("group", "period", "count", "amount", "weighted_amount") + ROLLUPS
QUOTA_COLUMNS = ("quota", "attainment")  # with a configuration that has quotas (SPEC §17)
UNSCHEDULED = "unscheduled"
CENT = Decimal("0.01")

# Exact sums and products whatever the magnitudes: no rounding until output. Used through
# its methods in the loop, not as the thread's context: ``items`` may be a generator
# running the caller's code, which must keep its own context.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)

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
    id: str = ""  # the opportunity's
    owner: str = ""  # its owner, as it counts in the forecast ("" without one)


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
    quota: Decimal | None = None  # SPEC §17; None without one
    attainment: Decimal | None = None  # closed / quota in percent, one decimal


@dataclass(frozen=True, slots=True)
class ForecastReport:
    """Rows sorted by group then period, totals row last; exact, unrounded values."""

    by: GroupBy
    period: PeriodKind
    weighted: bool
    rows: tuple[ForecastRow, ...]
    warnings: tuple[ForecastIssue, ...]
    errors: tuple[ForecastIssue, ...]
    quotas: bool = False  # the quota and attainment columns are shown

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of every format: SPEC §7's, and §17's with quotas."""
        return COLUMNS + QUOTA_COLUMNS if self.quotas else COLUMNS

    @property
    def totals(self) -> ForecastRow:
        """The totals row (always present, zeros when nothing counts)."""
        return self.rows[-1]
