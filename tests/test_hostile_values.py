"""Values that are not what they seem (issue 14, item 13): numbers are finite, and a
date with an impossible time is not a date.

``inf``, ``nan`` and ``1e999`` (which float() reads as inf) in a field compared as a
number get the SPEC §3 warning and fail the comparison; in a probability they are
``bad-probability``, in an amount ``bad-amount``. ``2026-01-01T25:99`` compared as a
date gets the warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, WriteConfig

from sfa_rules.cli.main import main
from sfa_rules.criteria.facts import parse_iso_date

CONFIG = {
    "rules/lifecycle.yaml": "statuses:\n  - {id: LEAD-New, stage: lead, probability: 0}\n",
    "territories/t.yaml": """\
reps:
  - {id: ana}
  - {id: bob}
territories:
  - id: big
    when: {employees: {gte: 100}}
    members: [{rep: ana}]
  - id: recent
    when: {signed: {gte: 2026-01-01}}
    members: [{rep: ana}]
  - id: pool
    default: true
    members: [{rep: bob}]
""",
}


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is never an acceptable outcome
    return result.exit_code, result.stdout, result.stderr


def decide(folder: Path, path: Path) -> list[dict[str, object]]:
    code, out, err = sfa("dry-run", "--config", str(folder), str(path), "--format", "jsonl")
    assert code in (0, 1), err
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("value, territory, warning", [
    ("inf", "pool", "employees: 'inf' is not a number"),
    ("-inf", "pool", "employees: '-inf' is not a number"),
    ("Infinity", "pool", "employees: 'Infinity' is not a number"),
    ("1e999", "pool", "employees: '1e999' is not a number"),
    ("nan", "pool", "employees: 'nan' is not a number"),
    ("9" * 400, "pool", "is not a number"),
    ("1e3", "big", None),
    ("250", "big", None),
])
def test_a_number_in_a_csv_record_must_be_finite(
        write_config: WriteConfig, tmp_path: Path, value: str, territory: str,
        warning: str | None) -> None:
    folder = write_config(CONFIG)
    leads = tmp_path / "leads.csv"
    leads.write_text(f"id,employees\nL1,{value}\nL2,500\n", encoding="utf-8")
    first, second = decide(folder, leads)
    assert (first["territory"], second["territory"]) == (territory, "big")
    if warning:
        assert len(first["warnings"]) == 1 and warning in first["warnings"][0]
    else:
        assert first["warnings"] == []


@pytest.mark.parametrize("line", [
    '{"type": "lead", "id": "J1", "employees": 1e999}',
    '{"type": "lead", "id": "J1", "employees": -1e999}',
])  # valid JSON that Python reads as an infinite float
def test_a_non_finite_json_number_is_not_a_number(
        write_config: WriteConfig, tmp_path: Path, line: str) -> None:
    folder = write_config(CONFIG)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(line + "\n", encoding="utf-8")
    (decision,) = decide(folder, rows)
    assert decision["territory"] == "pool" and decision["error"] is None
    (warning,) = decision["warnings"]
    assert warning.startswith("employees: '") and warning.endswith("' is not a number")


@pytest.mark.parametrize("value, territory, warned", [
    ("2026-01-01T25:99", "pool", True),
    ("2026-03-01T24:00", "pool", True),
    ("2026-03-01T10:60", "pool", True),
    ("2026-03-01 10:00:61", "pool", True),
    ("2026-02-30", "pool", True),
    ("2026-03-01T10", "recent", False),
    ("2026-03-01T23:59:59.999+02:00", "recent", False),
    ("2026-03-01 10:00:00Z", "recent", False),
    ("2026-03-01", "recent", False),
])
def test_a_date_time_with_an_impossible_time_is_not_a_date(
        write_config: WriteConfig, tmp_path: Path, value: str, territory: str,
        warned: bool) -> None:
    folder = write_config(CONFIG)
    leads = tmp_path / "leads.csv"
    leads.write_text(f"id,signed\nL1,{value}\n", encoding="utf-8")
    (decision,) = decide(folder, leads)
    assert decision["territory"] == territory
    expected = [f"signed: '{value}' is not a date (YYYY-MM-DD)"] if warned else []
    assert decision["warnings"] == expected
    assert (parse_iso_date(value) is None) == warned


@pytest.mark.parametrize("probability", ["inf", "1e999", "nan", "-inf", "Infinity"])
def test_a_non_finite_probability_is_bad_probability(tmp_path: Path, probability: str) -> None:
    rows = tmp_path / "opportunities.csv"
    rows.write_text("id,customer,status,probability\n"
                    f"O-1,L-1001,Proposal,{probability}\nO-2,L-1001,Proposal,40\n",
                    encoding="utf-8")
    leads = REPO / "examples" / "leads.csv"
    code, out, _ = sfa("dry-run", "--config", str(REPO), str(leads), str(rows),
                       "--format", "jsonl")
    *_, bad, good = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert bad["error"] == {"code": "bad-probability", "field": "probability",
                            "message": f"probability {probability!r} is not a number"}
    assert good["error"] is None and good["probability"] == 40


@pytest.mark.parametrize("amount", ["inf", "1e999", "nan", "Infinity"])
def test_a_non_finite_amount_is_bad_amount(tmp_path: Path, amount: str) -> None:
    rows = tmp_path / "opportunities.csv"
    rows.write_text("id,customer,status,amount,expected_close\n"
                    f"O-1,L-1001,Proposal,{amount},2026-09-30\n"
                    "O-2,L-1001,Proposal,100,2026-09-30\n", encoding="utf-8")
    leads = REPO / "examples" / "leads.csv"
    code, out, err = sfa("forecast", "--config", str(REPO), str(leads), str(rows),
                         "--format", "json")
    assert code == 1
    assert f"opportunities.csv:1: error: amount {amount!r} is not a number" in err
    assert "[bad-amount]" in err
    assert json.loads(out)[-1]["amount"] == 100


@pytest.mark.parametrize("number", ["1" + "0" * 400, "-" + "9" * 500, "1e999"])
def test_a_huge_json_probability_is_bad_probability(tmp_path: Path, number: str) -> None:
    """A JSON integer of hundreds of digits is a Python int too large for a float."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"type": "opportunity", "id": "O-1", "customer": "L-1001", '
                    f'"status": "Proposal", "probability": {number}}}\n', encoding="utf-8")
    code, out, _ = sfa("dry-run", "--config", str(REPO), str(REPO / "examples" / "leads.csv"),
                       str(rows), "--format", "jsonl")
    last = json.loads(out.splitlines()[-1])
    assert code == 1 and last["error"]["code"] == "bad-probability"
