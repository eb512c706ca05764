"""The forecast (SPEC §7): hand-computed rollups, parsing rules, renderers, invariants."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal, getcontext, localcontext
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sfa_rules import forecast
from sfa_rules.forecast import ForecastItem, ForecastReport, ForecastRow

CASES = Path(__file__).parent / "cases" / "forecast"
# The shipped ladder (rules/opportunities.yaml): status -> probability, category, outcome.
LADDER: dict[str, tuple[float, str, str | None]] = {
    "Identified Opportunity": (10, "pipeline", None),
    "In Discussion": (20, "pipeline", None),
    "Identified Decision Makers": (30, "pipeline", None),
    "Proposal": (50, "best_case", None),
    "In Negotiation": (75, "commit", None),
    "Purchasing": (90, "commit", None),
    "Closed Won": (100, "closed", "won"),
    "Closed Lost": (0, "omitted", "lost"),
}
NUMBERS = ("amount", "weighted_amount", "closed", "commit", "best_case", "pipeline")


def item(
    id: str = "O-1",
    status: str = "Proposal",
    amount: str | None = "100",
    close: str | None = "2027-01-15",
    row: int | None = 1,
    **fields: Any,
) -> ForecastItem:
    """An item whose category, outcome and probability default to its status's."""
    probability, category, outcome = LADDER.get(status, (0, "pipeline", None))
    values: dict[str, Any] = {
        "source": "opportunities.csv", "row": row, "id": id, "owner": "ana",
        "territory": None, "status": status, "category": category, "outcome": outcome,
        "probability": probability, "amount": amount, "expected_close": close,
    }
    values.update(fields)
    return ForecastItem(**values)


def load_case(path: Path) -> list[Any]:
    data = yaml.safe_load(path.read_text())
    items = [
        item(
            **{k: v for k, v in entry.items() if k not in ("amount", "close")},
            amount=entry.get("amount"), close=entry.get("close"), row=number,
        )
        for number, entry in enumerate(data["items"], start=1)
    ]
    return [
        pytest.param(items, run, id=f"{path.stem}/{run['name']}")
        for run in data["runs"]
    ]


def as_tuple(row: ForecastRow) -> tuple[Any, ...]:
    return (row.group, row.period, row.count, *(getattr(row, name) for name in NUMBERS))


def expected_tuple(row: list[Any]) -> tuple[Any, ...]:
    group, period, count, *numbers = row
    return (group, None if period is None else str(period), count,
            *(Decimal(number) for number in numbers))


@pytest.mark.parametrize(
    ("items", "run"), [case for path in sorted(CASES.glob("*.yaml")) for case in load_case(path)]
)
def test_case_files(items: list[ForecastItem], run: dict[str, Any]) -> None:
    report = forecast.build(items, **run["options"])
    assert [as_tuple(row) for row in report.rows] == [expected_tuple(r) for r in run["rows"]]
    assert [[w.row, w.code] for w in report.warnings] == run.get("warnings", [])
    assert [[e.row, e.code] for e in report.errors] == run.get("errors", [])


# -- parsing rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234.5", "1234.5"),
        ("1,234.50", "1234.50"),
        ("1,234,567", "1234567"),
        ("-1,000.25", "-1000.25"),
        ("  42  ", "42"),
        ("0.005", "0.005"),
        ("007", "7"),
    ],
)
def test_amount_accepted(text: str, value: str) -> None:
    assert forecast.parse_amount(text) == Decimal(value)


@pytest.mark.parametrize(
    "text",
    ["12,34", "1.234,50", "1,2345", "$100", "100 EUR", "+5", "1e3", ".5", "5.", "NaN",
     "Infinity", "1_000", "--1", "1,000.", "1 000", "abc", "", "-", "١٠٠", "１００"],
)
def test_amount_rejected(text: str) -> None:
    assert forecast.parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "month", "quarter", "year"),
    [
        ("2027-01-01", "2027-01", "2027-Q1", "2027"),
        ("2027-03-31", "2027-03", "2027-Q1", "2027"),
        ("2027-04-01", "2027-04", "2027-Q2", "2027"),
        ("2027-09-30", "2027-09", "2027-Q3", "2027"),
        ("2027-12-31", "2027-12", "2027-Q4", "2027"),
        ("2028-02-29", "2028-02", "2028-Q1", "2028"),
        (" 2027-07-04 ", "2027-07", "2027-Q3", "2027"),
    ],
)
def test_periods(text: str, month: str, quarter: str, year: str) -> None:
    assert [forecast.period_of(text, kind) for kind in ("month", "quarter", "year")] == [
        month, quarter, year,
    ]


@pytest.mark.parametrize(
    "text",
    ["2027-02-29", "2027-13-01", "2027-00-10", "2027-1-5", "20270115", "2027/01/15",
     "15/01/2027", "2027-01-15T10:00:00", "2027-W03-1", "2027-01", "tomorrow"],
)
def test_bad_dates(text: str) -> None:
    assert forecast.period_of(text, "quarter") is None


def test_errors_name_the_row_field_and_value() -> None:
    report = forecast.build([
        item("O-9", amount="1.234,50", row=7),
        item("O-8", close="31/12/2027", row=None, source="state"),
    ])
    assert [(e.source, e.row, e.code, e.field) for e in report.errors] == [
        ("opportunities.csv", 7, "bad-amount", "amount"),
        ("state", None, "bad-date", "expected_close"),
    ]
    assert "'O-9'" in report.errors[0].message and "'1.234,50'" in report.errors[0].message
    assert "YYYY-MM-DD" in report.errors[1].message
    assert report.totals.count == 0


def test_minimum_probability_is_inclusive() -> None:
    items = [item("A", probability=50), item("B", probability=49.9)]
    report = forecast.build(items, minimum_probability=50)
    assert (report.totals.count, report.totals.weighted_amount) == (1, Decimal(50))


def test_empty_input_gives_a_zero_totals_row() -> None:
    report = forecast.build([])
    assert [as_tuple(row) for row in report.rows] == [(None, None, 0, *([Decimal(0)] * 6))]
    assert forecast.to_table(report).splitlines()[-1].split() == ["Total", "0", *["0.00"] * 6]
    assert forecast.to_json(report) == [{
        "group": None, "period": None, "count": 0, "amount": 0, "weighted_amount": 0,
        "closed": 0, "commit": 0, "best_case": 0, "pipeline": 0,
    }]


def test_groups_sort_by_text_ignoring_case_none_and_unscheduled_last() -> None:
    items = [
        item("1", owner=None), item("2", owner="bob"), item("3", owner="Ana", close=None),
        item("4", owner="Ana", close="2026-12-01"), item("5", owner="carl"),
    ]
    rows = forecast.build(items).rows
    assert [(row.group, row.period) for row in rows] == [
        ("Ana", "2026-Q4"), ("Ana", "unscheduled"), ("bob", "2027-Q1"),
        ("carl", "2027-Q1"), ("(none)", "2027-Q1"), (None, None),
    ]


def test_lazy_items_keep_the_callers_decimal_context() -> None:
    # The caller's code between items (a generator) runs in the caller's context: an
    # unbounded precision there would make its 1/3 run out of memory.
    seen = []

    def items() -> Iterator[ForecastItem]:
        for number in range(3):
            seen.append(getcontext().prec)
            yield item(str(number), amount="1")

    with localcontext(prec=12):
        assert forecast.build(items()).totals.count == 3
    assert seen == [12, 12, 12]


@pytest.mark.parametrize(("by", "period"), [("customer", "quarter"), ("owner", "week")])
def test_unknown_grouping_or_period(by: Any, period: Any) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        forecast.build([], by=by, period=period)


# -- renderers ----------------------------------------------------------------


def small_report() -> ForecastReport:
    return forecast.build([
        item("A", status="Closed Won", amount="1234.5", close="2027-02-01", owner="ana.gomez"),
        # 0.05 x 50% = 0.025: half up gives 0.03 (half even would give 0.02).
        item("B", status="Proposal", amount="0.05", close="2027-05-01", owner="ana.gomez"),
        item("C", status="In Negotiation", amount="1,000,000", close=None, owner="luis"),
        item("D", status="Proposal", amount="0.10", close="2027-01-01", owner=None),
        item("E", status="Proposal", amount="0.20", close="2027-01-02", owner=None),
    ])


def test_json_keys_numbers_and_rounding() -> None:
    rows = forecast.to_json(small_report())
    assert all(list(row) == list(forecast.COLUMNS) for row in rows)
    assert rows == [
        {"group": "ana.gomez", "period": "2027-Q1", "count": 1, "amount": 1234.5,
         "weighted_amount": 1234.5, "closed": 1234.5, "commit": 1234.5,
         "best_case": 1234.5, "pipeline": 1234.5},
        {"group": "ana.gomez", "period": "2027-Q2", "count": 1, "amount": 0.05,
         "weighted_amount": 0.03, "closed": 0, "commit": 0, "best_case": 0.03,
         "pipeline": 0.03},
        {"group": "luis", "period": "unscheduled", "count": 1, "amount": 1000000,
         "weighted_amount": 750000, "closed": 0, "commit": 750000, "best_case": 750000,
         "pipeline": 750000},
        {"group": "(none)", "period": "2027-Q1", "count": 2, "amount": 0.3,
         "weighted_amount": 0.15, "closed": 0, "commit": 0, "best_case": 0.15,
         "pipeline": 0.15},
        {"group": None, "period": None, "count": 5, "amount": 1001234.85,
         "weighted_amount": 751234.68, "closed": 1234.5, "commit": 751234.5,
         "best_case": 751234.68, "pipeline": 751234.68},
    ]
    text = json.dumps(rows)
    assert "0.30000000000000004" not in text and '"amount": 0.3,' in text


def test_csv() -> None:
    assert forecast.to_csv(small_report()) == (
        "group,period,count,amount,weighted_amount,closed,commit,best_case,pipeline\n"
        "ana.gomez,2027-Q1,1,1234.50,1234.50,1234.50,1234.50,1234.50,1234.50\n"
        "ana.gomez,2027-Q2,1,0.05,0.03,0.00,0.00,0.03,0.03\n"
        "luis,unscheduled,1,1000000.00,750000.00,0.00,750000.00,750000.00,750000.00\n"
        "(none),2027-Q1,2,0.30,0.15,0.00,0.00,0.15,0.15\n"
        ",,5,1001234.85,751234.68,1234.50,751234.50,751234.68,751234.68\n"
    )
    rows = list(csv.DictReader(io.StringIO(forecast.to_csv(small_report()))))
    assert rows[-1]["group"] == "" and rows[-1]["pipeline"] == "751234.68"


def test_table() -> None:
    assert forecast.to_table(small_report()) == (
        "owner      period       count        amount    weighted    closed      commit"
        "   best_case    pipeline\n"
        "---------  -----------  -----  ------------  ----------  --------  ----------"
        "  ----------  ----------\n"
        "ana.gomez  2027-Q1          1      1,234.50    1,234.50  1,234.50    1,234.50"
        "    1,234.50    1,234.50\n"
        "ana.gomez  2027-Q2          1          0.05        0.03      0.00        0.00"
        "        0.03        0.03\n"
        "luis       unscheduled      1  1,000,000.00  750,000.00      0.00  750,000.00"
        "  750,000.00  750,000.00\n"
        "(none)     2027-Q1          2          0.30        0.15      0.00        0.00"
        "        0.15        0.15\n"
        "---------  -----------  -----  ------------  ----------  --------  ----------"
        "  ----------  ----------\n"
        "Total                       5  1,001,234.85  751,234.68  1,234.50  751,234.50"
        "  751,234.68  751,234.68\n"
    )


@pytest.mark.parametrize(
    ("value", "cents"),
    [("-0.004", "0.00"), ("0.005", "0.01"), ("0.015", "0.02"), ("-0.005", "-0.01"), ("2.675", "2.68"),
     ("0.004999", "0.00"), ("12345678901234567890.125", "12345678901234567890.13")],
)
def test_rounding_is_half_up_to_cents(value: str, cents: str) -> None:
    assert str(forecast.rounded(Decimal(value))) == cents


# -- invariants ---------------------------------------------------------------

AMOUNTS = st.one_of(
    st.none(),
    st.just(""),
    st.decimals(min_value=-10**6, max_value=10**9, places=3, allow_nan=False).map(str),
    st.integers(min_value=0, max_value=10**9).map(lambda n: f"{n:,}"),
    st.sampled_from(["12,34", "n/a", "1.234,5"]),
)
CLOSES = st.one_of(
    st.none(),
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    st.sampled_from(["2027-02-30", "soon"]),
)
ITEMS = st.builds(
    item,
    id=st.text(min_size=1, max_size=3),
    status=st.sampled_from(sorted(LADDER)),
    amount=AMOUNTS,
    close=CLOSES,
    owner=st.sampled_from([None, "ana", "bob", "(none)", "Zoe"]),
    territory=st.sampled_from([None, "us-west", "latam"]),
    probability=st.one_of(st.integers(0, 100), st.floats(0, 100, allow_nan=False)),
)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(ITEMS, max_size=40),
    weighted=st.booleans(),
    minimum=st.sampled_from([0, 25, 50.5]),
)
def test_totals_are_the_sum_of_the_rows(
    items: list[ForecastItem], weighted: bool, minimum: float
) -> None:
    totals = []
    for by in forecast.GROUP_BYS:
        for period in forecast.PERIODS:
            report = forecast.build(
                items, by=by, period=period, weighted=weighted, minimum_probability=minimum  # type: ignore[arg-type]
            )
            *rows, total = report.rows
            assert (total.group, total.period) == (None, None)
            assert total.count == sum(row.count for row in rows)
            with localcontext(prec=1000):  # the report is exact: so must the check be
                for name in NUMBERS:
                    expected = sum((getattr(row, name) for row in rows), Decimal(0))
                    assert getattr(total, name) == expected
            keys = [(row.group, row.period) for row in rows]
            assert len(set(keys)) == len(keys)
            # The cumulative rollups end where they must.
            assert total.pipeline == (total.weighted_amount if weighted else total.amount)
            totals.append((as_tuple(total), report.warnings, report.errors))
    # JSON numbers are the rounded Decimals exactly: no binary drift (0.30000000000000004).
    for row, data in zip(report.rows, forecast.to_json(report), strict=True):
        for name in NUMBERS:
            assert Decimal(repr(data[name])) == forecast.rounded(getattr(row, name))
    # Grouping and period only split the same opportunities differently.
    assert all(entry == totals[0] for entry in totals)
