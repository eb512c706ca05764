"""Number and date formats of imports (SPEC §16): tables and properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfa_rules.config.dateformats import format_problem, parse, suggest
from sfa_rules.records.numbers import NumberFormat


def written(value: int, cents: int, decimal: str, thousands: str) -> str:
    groups = f"{value:,}".replace(",", "\x00")
    return groups.replace("\x00", thousands) + f"{decimal}{cents:02d}"


@given(st.integers(0, 10**12), st.integers(0, 99), st.sampled_from([
    (".", ","), (",", "."), (".", " "), (",", " "), (".", "'"), (".", ""), (",", "")]),
    st.sampled_from(["{}", "$ {}", "{} EUR", "USD {}", "€{}", "-{}", "({})"]))
def test_a_number_written_in_the_format_reads_back_exactly(
        value: int, cents: int, marks: tuple[str, str], around: str) -> None:
    decimal, thousands = marks
    text = around.format(written(value, cents, decimal, thousands))
    sign = "-" if around in ("-{}", "({})") else ""
    assert NumberFormat(decimal, thousands).read(text) == f"{sign}{value}.{cents:02d}"


@pytest.mark.parametrize(("decimal", "thousands", "text", "expected"), [
    (".", None, "1,234.50", "1234.50"),
    (".", None, "1234", "1234"),
    (".", None, "  12.5 ", "12.5"),
    (".", None, "01234", "01234"),     # zip codes keep their zeros
    (".", None, "1,23,456", None),     # groups of three only
    (".", None, "12,34", None),
    (".", None, "1.234,50", None),
    (".", None, "abc", None),
    (".", None, "1e3", None),
    (",", None, "1.234,50", "1234.50"),
    (",", None, "€ 1.234,50", "1234.50"),
    (",", None, "1,234.50", None),
    (".", " ", "1\u00a0234.5", "1234.5"),
    (".", "", "1,234", None),
])
def test_number_table(decimal: str, thousands: str | None, text: str,
                      expected: str | None) -> None:
    assert NumberFormat(decimal, thousands).read(text) == expected


@given(st.dates(date(1969, 1, 1), date(2068, 12, 31)),
       st.sampled_from(["%d-%m-%y", "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%y", "%d.%m.%Y",
                        "%d %b %Y", "%Y%m%d"]))
def test_a_date_written_in_the_format_reads_back_as_iso(day: date, fmt: str) -> None:
    """Two-digit years follow strptime: 69-99 are 19xx, 00-68 are 20xx."""
    assert parse(day.strftime(fmt), fmt) == day.isoformat()


@pytest.mark.parametrize(("fmt", "problem"), [
    ("%d-%m-%y", None),
    ("%Y-%m-%d %H:%M", None),
    ("%j %Y", None),
    ("dd-mm-yy", "has no strptime directive (did you mean '%d-%m-%y'?)"),
    ("DD/MM/YYYY", "has no strptime directive (did you mean '%d/%m/%Y'?)"),
    ("date", "has no strptime directive such as %Y, %m, %d"),
    ("%Q-%m-%Y", "is not a strptime format: 'Q' is a bad directive in format '%Q-%m-%Y'"),
    # no year: probed with one added, which the message does not quote
    ("%d %Q", "is not a strptime format: 'Q' is a bad directive in format '%d %Q'"),
    ("%m-%Y", "does not read the day of a date"),
    ("%H:%M", "does not read the year, month and day of a date"),
    # a day without a year: strptime's deprecation (3.13+) is not the user's problem
    ("%d/%m", "does not read the year of a date"),
    ("%%Y %d", "does not read the year and month of a date"),
])
@pytest.mark.filterwarnings("error")
def test_date_format_problems(fmt: str, problem: str | None) -> None:
    assert format_problem(fmt) == problem


def test_suggest_leaves_strptime_formats_alone() -> None:
    assert suggest("%d-%m-%y") is None
