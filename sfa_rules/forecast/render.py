"""The forecast's formats (SPEC §7, §17): JSON objects, CSV, an aligned table.

Amounts are rounded to cents, half up, only here; attainment is already a percentage
with one decimal. With quotas (``report.quotas``) every format adds ``quota`` and
``attainment`` after the rollups: JSON numbers or ``null``, empty CSV cells, ``-`` in
the table (where attainment reads ``85.3%``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from sfa_rules.forecast.values import CENT, COLUMNS, EXACT, ROLLUPS, ForecastReport, ForecastRow

_AMOUNTS = COLUMNS[3:]


def rounded(value: Decimal) -> Decimal:
    """``value`` to cents, half up (the only rounding the forecast does); never ``-0.00``."""
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP, context=EXACT)
    return cents.copy_abs() if cents.is_zero() else cents


def _number(value: Decimal) -> int | float:
    # Round the Decimal first, then convert: a float made from a 2-decimal number
    # prints back as that number (below 2**53 cents), with no 0.1 + 0.2 drift. Amounts
    # are below 10**15 (larger ones are bad-amount), so every sum stays finite.
    cents = rounded(value)
    return int(cents) if cents == cents.to_integral_value() else float(cents)


def _quota_json(row: ForecastRow) -> dict[str, object]:
    attained = row.attainment
    return {
        "quota": None if row.quota is None else _number(row.quota),
        "attainment": None if attained is None else (
            int(attained) if attained == attained.to_integral_value() else float(attained)),
    }


def to_json(report: ForecastReport) -> list[dict[str, object]]:
    """SPEC §7's JSON: one object per row, amounts as numbers rounded to cents.

    Whole amounts are JSON integers (``1000``), others floats (``1234.56``); with
    quotas, ``quota`` and ``attainment`` (``null`` without a quota) follow.
    """
    out: list[dict[str, object]] = []
    for row in report.rows:
        entry: dict[str, object] = {
            "group": row.group,
            "period": row.period,
            "count": row.count,
            **{name: _number(getattr(row, name)) for name in _AMOUNTS},
        }
        if report.quotas:
            entry.update(_quota_json(row))
        out.append(entry)
    return out


def _quota_cells(row: ForecastRow, table: bool) -> list[str]:
    empty = "-" if table else ""
    quota = empty if row.quota is None else f"{rounded(row.quota):{',' if table else ''}f}"
    attained = empty if row.attainment is None else f"{row.attainment:f}{'%' if table else ''}"
    return [quota, attained]


def to_csv(report: ForecastReport, cell: Callable[[str], str] | None = None) -> str:
    """The same columns as CSV; amounts as ``1234.56``; totals row with empty keys.

    ``cell`` rewrites the group's text (the one value that comes from the records), e.g.
    to neutralise what a spreadsheet would run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        group = row.group or ""
        writer.writerow([
            cell(group) if cell is not None else group, row.period or "", row.count,
            *(f"{rounded(getattr(row, name)):f}" for name in _AMOUNTS),
            *(_quota_cells(row, False) if report.quotas else ()),
        ])
    return out.getvalue()


def to_table(report: ForecastReport) -> str:
    """An aligned text table, amounts as ``1,234.56``, a rule above the totals row."""
    header = [report.by, "period", "count", "amount", "weighted", *ROLLUPS]
    if report.quotas:
        header += ["quota", "attainment"]
    lines = [
        [
            row.group if row.group is not None else "Total",
            row.period or "",
            str(row.count),
            *(f"{rounded(getattr(row, name)):,f}" for name in _AMOUNTS),
            *(_quota_cells(row, True) if report.quotas else ()),
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
