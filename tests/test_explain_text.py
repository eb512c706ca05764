"""``sfa explain`` as text and as JSON with values as written (SPEC §20).

Golden files: tests/cases/explain/<id>.txt hold the exact text of ``sfa explain
examples/... --id <id> --format text``; refresh one by running that command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfa_rules.cli import main
from sfa_rules.report.explain import render, render_decision

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases" / "explain"
EXAMPLES = [f"examples/{name}" for name in
            ("customers.csv", "leads.csv", "opportunities.csv", "estimates.csv",
             "sales_orders.csv")]
GOLDEN = sorted(CASES.glob("*.txt"))


def explain(*args: str) -> Any:
    return CliRunner().invoke(main, ["explain", *EXAMPLES, *args])


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the golden files name the examples as the README does


@pytest.mark.parametrize("golden", GOLDEN, ids=[g.stem for g in GOLDEN])
def test_text_golden(golden: Path) -> None:
    result = explain("--id", golden.stem, "--format", "text")
    assert result.exit_code == 0, result.output
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_json_is_the_default_off_a_terminal_with_values_as_written() -> None:
    result = explain("--id", "L-1015")
    assert result.exit_code == 0
    (decision,) = json.loads(result.stdout)
    us_west = next(t for t in decision["trace"] if t.get("id") == "us-west")
    assert us_west["why"] == [{"field": "state", "op": "in", "expected": ["CA", "OR", "WA"],
                               "actual": "FL"}]
    assert decision["trace"][-1]["skipped"] == [{"rep": "john.smith",
                                                 "reason": "away until 2027-01-05"}]


def test_no_such_id_exits_1_in_text_too() -> None:
    result = explain("--id", "NOPE", "--format", "text")
    assert result.exit_code == 1
    assert result.stdout == "" and "no row with id or customer 'NOPE'" in result.stderr


# One failing test, and the line it reads as (SPEC §20: `country is AR, needs one of ...`).
FAILURES = [
    ({"field": "country", "op": "in", "expected": ["CO", "PE", "EC"], "actual": "AR"},
     "country is AR, needs one of CO, PE, EC"),
    ({"field": "country", "op": "eq", "expected": "US", "actual": None},
     "country is missing, needs US"),
    ({"field": "industry", "op": "ne", "expected": "Government", "actual": "Government"},
     "industry is Government, needs anything but Government"),
    ({"field": "industry", "op": "not_in", "expected": ["Gov"], "actual": "Gov"},
     "industry is Gov, needs none of Gov"),
    ({"field": "zip", "op": "prefix", "expected": ["94"], "actual": "10001"},
     "zip is 10001, needs to start with 94"),
    ({"field": "zip", "op": "prefix", "expected": ["94", "95"], "actual": "10001"},
     "zip is 10001, needs to start with one of 94, 95"),
    ({"field": "email", "op": "regex", "expected": "@acme\\.", "actual": "a@b.example"},
     "email is a@b.example, needs to match /@acme\\./"),
    ({"field": "employees", "op": "gte", "expected": 1000, "actual": "420"},
     "employees is 420, needs at least 1000"),
    ({"field": "employees", "op": "lt", "expected": 10.0, "actual": "12"},
     "employees is 12, needs less than 10"),
    ({"field": "created", "op": "between", "expected": ["2026-01-01", "2026-12-31"],
      "actual": "2025-05-01"}, "created is 2025-05-01, needs between 2026-01-01 and 2026-12-31"),
    ({"field": "vip", "op": "exists", "expected": True, "actual": None},
     "vip is missing, needs a value"),
    ({"field": "industry", "op": "not", "expected": {"industry": {"eq": "Government"}},
      "actual": {"industry": "Government"}},
     "industry is Government, must not match: industry is Government"),
    ({"field": "a, b", "op": "not", "expected": {"all": [{"a": {"in": ["X", "Y"]}}, {"rule": "big"}]},
      "actual": {"a": "X", "b": None}},
     "a is X, b is missing, must not match: (a is one of X, Y and rule big)"),
    ({"field": "state", "op": "in", "expected": [f"S{i}" for i in range(15)], "actual": "TX"},
     "state is TX, needs one of S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11 and 3 more"),
]


@pytest.mark.parametrize(("failure", "line"), FAILURES, ids=[f[1][:40] for f in FAILURES])
def test_a_failing_test_reads_as_a_sentence(failure: dict[str, Any], line: str) -> None:
    decision = {"source": "t.csv", "row": 1, "type": "lead", "id": "L-1", "owner": None,
                "status": "LEAD-New", "stage": "lead", "probability": 0,
                "trace": [{"step": "territory", "id": "andes", "matched": False, "why": [failure]}]}
    assert render_decision(decision)[1] == f"  ✗ andes: {line}"


def test_a_row_in_error_says_so() -> None:
    decision = {"source": "o.csv", "row": 3, "type": "opportunity", "id": "O-1",
                "customer": "C-9", "warnings": ["no-customer: x"], "trace": [],
                "error": {"code": "unknown-customer", "message": "unknown customer 'C-9'",
                          "field": "customer"}}
    assert render([decision]) == (
        "o.csv:3  opportunity O-1 of C-9: in error\n"
        "  warning: no-customer: x\n"
        "  error: unknown-customer: unknown customer 'C-9' (field customer)"
    )


def test_the_readme_example_is_what_explain_prints() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ sfa explain examples/leads.csv --id L-1015\n", 1)[1].split("```", 1)[0]
    result = CliRunner().invoke(main, ["explain", "examples/leads.csv", "--id", "L-1015",
                                       "--format", "text"])
    assert result.stdout == block


def test_a_manual_change_and_a_refused_one(tmp_path: Path) -> None:
    changes = tmp_path / "status_changes.csv"
    changes.write_text("customer,status\nL-1001,LEAD-Qualified\nL-1001,LEAD-Bogus\n",
                       encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", "examples/leads.csv", str(changes),
                                       "--id", "L-1001", "--format", "text"])
    assert result.exit_code == 1  # one of the rows explained is in error
    assert result.stdout.split("\n\n")[1:] == [
        f"{changes}:1  status_change of L-1001 -> ana.gomez, LEAD-Qualified (lead, 0%); "
        "customer LEAD-New -> LEAD-Qualified\n"
        "  · manual change to LEAD-Qualified: allowed",
        f"{changes}:2  status_change of L-1001: in error\n"
        "  error: unknown-status: unknown status 'LEAD-Bogus' (field status)\n",
    ]
