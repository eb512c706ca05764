"""What the forecast says about bad rows (SPEC §7, §11, §12; issue 14, items 10 and 13):
the library's report names every row left out, the CLI tells problems per code in
one pass, the JSON stays valid whatever the amounts, a state alone can be forecast."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sfa_rules
from sfa_rules import forecast
from sfa_rules.cli.main import main
from sfa_rules.engine.decision import warning_code

REPO = Path(__file__).resolve().parent.parent
CONFIG = ("--config", str(REPO))
HUGE = "9" * 310  # a float overflows to inf; JSON has no Infinity


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def opportunities(path: Path, rows: list[tuple[str, str, str]]) -> str:
    """An opportunities.csv of (id, amount, expected_close), all Proposal of customer C1."""
    lines = ["id,customer,status,amount,expected_close"]
    lines += [f"{oid},C1,Proposal,{amount},{close}" for oid, amount, close in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def customers(tmp_path: Path) -> str:
    path = tmp_path / "customers.csv"
    path.write_text("id,country\nC1,US\n", encoding="utf-8")
    return str(path)


# -- the library -------------------------------------------------------------------------


def test_engine_forecast_returns_the_rows_in_error_and_the_warnings() -> None:
    engine = sfa_rules.load(REPO)
    records: list[dict[str, Any]] = [{"type": "customer", "id": "C1", "country": "US"}]
    records += [{"type": "opportunity", "id": f"O{n}", "customer": "C1" if n else "NOPE",
                 "status": "Proposal", "amount": "10", "expected_close": "2027-01-01"}
                for n in range(21)]
    records.append({"type": "opportunity", "id": "EARLY", "status": "Proposal",
                    "amount": "1", "expected_close": "2027-01-01"})
    report = engine.forecast(records)
    assert report.totals.count == 21  # 20 of C1 and the early deal
    assert [(e.code, e.row, e.field) for e in report.errors] == [
        ("unknown-customer", 2, "customer")]
    assert "NOPE" in report.errors[0].message
    assert [(w.code, w.row) for w in report.warnings] == [("no-customer", 23)]


def test_a_rows_warnings_have_the_codes_the_dry_run_counts() -> None:
    engine = sfa_rules.load(REPO)
    records = [{"type": "lead", "id": "L1", "country": "US", "employees": "n/a",
                "email": "a@acme.example"},
               {"type": "lead", "id": "L2", "country": "US", "email": "a@acme.example"}]
    with engine.session() as session:
        counted = [warning_code(w) for d in session.process(records) for w in d.warnings]
    report = engine.forecast(records)
    assert [w.code for w in report.warnings] == counted == ["not-a-number", "duplicate-of"]
    assert [w.message for w in report.warnings] == [
        "employees: 'n/a' is not a number", "duplicate-of:L1"]
    assert [w.field for w in report.warnings] == ["employees", ""]  # the value's field


def test_row_problems_come_in_input_order(tmp_path: Path, customers: str) -> None:
    opps = opportunities(tmp_path / "opportunities.csv",
                         [("Z9", "", "2027-01-01"), ("A1", "x", "2027-01-01"),
                          ("M5", "1", "later"), ("B2", "", "")])
    engine = sfa_rules.load(REPO)
    report = engine.forecast(sfa_rules.records.read([customers, opps]))
    assert [(e.row, e.code) for e in report.errors] == [(2, "bad-amount"), (3, "bad-date")]
    assert [(w.row, w.code) for w in report.warnings] == [
        (1, "no-amount"), (4, "no-amount"), (4, "no-expected-close")]
    # each names its opportunity and owner, the rows' own errors as the forecast's warnings
    assert [e.id for e in report.errors] == ["A1", "M5"] and all(e.owner for e in report.errors)
    assert [w.id for w in report.warnings] == ["Z9", "B2", "B2"] and all(w.owner for w in report.warnings)


@pytest.mark.parametrize(("amount", "counted"), [
    ("999999999999999.99", True),        # 15 digits before the point: the largest
    ("-999999999999999", True),
    ("999,999,999,999,999", True),
    ("1000000000000000", False),         # 16 digits
    ("-1000000000000000.5", False),
    (HUGE, False),
    ("1" + "0" * 5000, False),
    ("0." + "0" * 400 + "1", True),      # tiny: exact, rounds to 0.00
])
def test_amounts_are_finite_and_exact(amount: str, counted: bool) -> None:
    item = forecast.ForecastItem("o.csv", 1, "O-1", "ana", None, "Closed Won", "closed",
                                 "won", 100, amount, "2027-01-01")
    report = forecast.build([item])
    assert (report.totals.count == 1) is counted
    if not counted:
        assert [e.code for e in report.errors] == ["bad-amount"]
        assert "too large" in report.errors[0].message
        assert len(report.errors[0].message) < 200  # a 5,000-digit amount is shortened
    text = json.dumps(forecast.to_json(report), allow_nan=False)
    assert strict_json(text)[-1]["count"] == (1 if counted else 0)


# -- the command line ----------------------------------------------------------------


def test_a_310_digit_amount_is_a_record_error_and_the_json_stays_valid(
    tmp_path: Path, customers: str,
) -> None:
    opps = opportunities(tmp_path / "opportunities.csv",
                         [("O1", HUGE, "2027-01-01"), ("O2", "100", "2027-01-01")])
    for fmt in ("json", "csv", "table"):
        code, out, err = sfa("forecast", customers, opps, "--format", fmt, *CONFIG)
        assert code == 1
        assert "Infinity" not in out and "inf" not in out.lower()
        assert f"{opps}:1: error:" in err and "[bad-amount]" in err
    code, out, _ = sfa("forecast", customers, opps, "--format", "json", *CONFIG)
    total = strict_json(out)[-1]
    assert (total["count"], total["amount"]) == (1, 100)


def test_problems_are_told_per_code_with_the_first_rows(tmp_path: Path, customers: str) -> None:
    rows = [(f"O{n}", "10", f"{n:02d}-01-27") for n in range(1, 31)]  # dd-mm-yy: bad-date
    rows += [("X1", "ten", "2027-01-01"), ("X2", "", "2027-01-01")]
    opps = opportunities(tmp_path / "opportunities.csv", rows)
    code, out, err = sfa("forecast", customers, opps, "--format", "json", *CONFIG)
    assert code == 1
    lines = err.splitlines()
    assert lines[0] == "forecast: 31 errors, 1 warning (per code, with the first rows):"
    at = lines.index("  bad-date: 30 errors")
    assert lines[at + 1].startswith(f"    {opps}:1: error: ")
    assert "expected_close '01-01-27' is not a date" in lines[at + 1]
    assert lines[at + 1].endswith("[bad-date]")
    assert lines[at + 3].startswith(f"    {opps}:3: error:")
    assert lines[at + 4] == "    ... and 27 more"
    assert "  bad-amount: 1 error" in lines and "  no-amount: 1 warning" in lines
    assert lines.index("  bad-amount: 1 error") < lines.index("  no-amount: 1 warning")
    assert len(lines) == 10  # not one line per row
    assert strict_json(out)[-1]["count"] == 1


def test_a_clean_forecast_says_nothing_on_stderr(tmp_path: Path, customers: str) -> None:
    opps = opportunities(tmp_path / "opportunities.csv", [("O1", "10", "2027-01-01")])
    code, _, err = sfa("forecast", customers, opps, "--format", "json", *CONFIG)
    assert (code, err) == (0, "")


def test_many_problems_take_linear_time(tmp_path: Path) -> None:
    """4-42 s for the CRM export's bad dates when each was looked up in a list of all."""
    lines = ["id,status,amount,expected_close"]
    lines += [f"O{n},Proposal,10,01-03-17" for n in range(8_800)]  # no customer: warned too
    opps = tmp_path / "opportunities.csv"
    opps.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    code, _, err = sfa("forecast", str(opps), "--format", "json", *CONFIG)
    elapsed = time.perf_counter() - started
    assert code == 1
    assert "  bad-date: 8,800 errors" in err
    assert len(err.splitlines()) <= 11  # with the no-customer warnings of rows not in error
    assert elapsed < 10, f"{elapsed:.1f} s"


def test_forecast_of_a_state_alone(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    files = ("examples/leads.csv", "examples/opportunities.csv")
    assert sfa("apply", *(str(REPO / f) for f in files), "--state", state, *CONFIG)[0] == 0
    code, out, err = sfa("forecast", "--state", state, "--format", "json", *CONFIG)
    assert code == 0, err
    _, from_files, _ = sfa("forecast", *(str(REPO / f) for f in files), "--format", "json",
                           *CONFIG)
    assert strict_json(out) == strict_json(from_files)
    assert "state:-: warning: opportunity 'O-2014'" in err


@pytest.mark.parametrize(("args", "message"), [
    ((), "forecast needs FILES, or --state PATH"),
    (("--state", "missing.db"), "no state at missing.db"),
])
def test_forecast_without_files_needs_a_state(tmp_path: Path, args: tuple[str, ...],
                                              message: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = sfa("forecast", *args, *CONFIG)
    assert code == 2 and message in err and out == ""


@pytest.mark.parametrize(("raw", "expected"), [(False, "'=cmd|' /C calc'!A0"),
                                               (True, "=cmd|' /C calc'!A0")])
def test_a_group_a_spreadsheet_would_run_is_neutralised_in_csv(
    tmp_path: Path, customers: str, raw: bool, expected: str,
) -> None:
    path = tmp_path / "opportunities.csv"
    path.write_text("id,customer,owner,status,amount,expected_close\n"
                    "O1,C1,=cmd|' /C calc'!A0,Proposal,-5,2027-01-01\n", encoding="utf-8")
    code, out, _ = sfa("forecast", customers, str(path), "--format", "csv", *CONFIG,
                       *(("--csv-raw",) if raw else ()))
    rows = list(__import__("csv").reader(out.splitlines()))
    assert code == 0 and rows[1][0] == expected
    assert rows[1][3] == "-5.00"  # numbers are never touched
