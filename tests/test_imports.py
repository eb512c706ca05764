"""Imports (SPEC §16): an export's files read through the ``imports:`` of a configuration.

The case files of tests/cases/imports give an ``imports:`` file (added to a copy of the
shipped configuration), input files (``as`` is how the command line names one, e.g.
``FILE::ID``) and the rows the readers hand the engine: type, record, error. The CLI
tests check what a user sees: decisions, exit codes, usage errors with did-you-means.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import CASES, REPO

from sfa_rules.cli.main import main
from sfa_rules.engine.core import load
from sfa_rules.errors import did_you_mean
from sfa_rules.records.imports import Imports, split_source
from sfa_rules.records.readers import InputError

IMPORT_CASES = sorted((CASES / "imports").glob("*.yaml"))


def shipped_with(tmp_path: Path, imports: str) -> Path:
    """A copy of the shipped configuration with ``rules/imports.yaml``."""
    folder = tmp_path / "config"
    for sub in ("rules", "territories"):
        shutil.copytree(REPO / sub, folder / sub)
    (folder / "rules" / "imports.yaml").write_text(imports, encoding="utf-8")
    return folder


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case_path", IMPORT_CASES, ids=[p.stem for p in IMPORT_CASES])
def test_import_case(case_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case: dict[str, Any] = yaml.safe_load(case_path.read_text(encoding="utf-8"))
    engine = load(shipped_with(tmp_path, case["imports"]))
    monkeypatch.chdir(tmp_path)
    arguments = []
    for spec in case["files"]:
        Path(spec["name"]).write_text(spec["content"], encoding="utf-8")
        arguments.append(spec.get("as", spec["name"]))
    rows = list(Imports.of(engine).read(arguments, case.get("every")))
    assert len(rows) == len(case["expected"])
    for row, want in zip(rows, case["expected"]):
        assert row.source == want.get("source", row.source)
        assert (row.row, row.type, row.record) == (want["row"], want["type"], want["record"])
        assert list(row.warnings) == want.get("warnings", [])
        if "error" not in want:
            assert row.error is None, row.error.message if row.error else ""
            continue
        assert row.error is not None
        assert {k: v for k, v in row.error.to_dict().items() if k in want["error"]} \
            == want["error"]


def test_library_unknown_import_raises_input_error(tmp_path: Path) -> None:
    engine = load(shipped_with(tmp_path, IMPORTS))
    with pytest.raises(InputError, match=r"unknown import 'crm-deal' \(did you mean 'crm-deals'\?\)"):
        Imports.of(engine).read(["deals.csv::crm-deal"])


def test_there_are_enough_import_cases() -> None:
    assert len(IMPORT_CASES) >= 8


@pytest.mark.parametrize(("argument", "path", "import_id"), [
    ("sales.csv::crm-pipeline", "sales.csv", "crm-pipeline"),
    ("sales.csv", "sales.csv", None),
    ("dir/a::b.csv::x", "dir/a::b.csv", "x"),
    ("sales.csv:: x ", "sales.csv", "x"),
])
def test_split_source(argument: str, path: str, import_id: str | None) -> None:
    assert split_source(argument) == (path, import_id)


def test_a_file_whose_name_has_two_colons_is_that_file(tmp_path: Path) -> None:
    odd = tmp_path / "export::2027.csv"
    odd.write_text("id\n1\n", encoding="utf-8")
    assert split_source(str(odd)) == (str(odd), None)


# -- the commands ------------------------------------------------------------------

DEALS = "deal,client,stage,close\nD1,ACME,Won,01-03-17\nD2,,Open,15-06-17\n"
IMPORTS = """\
imports:
  - id: crm-deals
    files: ["deals*.csv"]
    type: opportunity
    date_format: "%d-%m-%y"
    fields:
      id: deal
      customer: client
      status: {column: stage, values: {won: Closed Won, open: Proposal}}
      expected_close: close
  - id: crm-accounts
    files: ["accounts*.csv"]
    type: customer
    fields: {id: name}
"""


@pytest.fixture
def crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = shipped_with(tmp_path, IMPORTS)
    monkeypatch.chdir(tmp_path)
    Path("accounts.csv").write_text("name,country\nACME,US\n", encoding="utf-8")
    Path("deals.csv").write_text(DEALS, encoding="utf-8")
    Path("other.csv").write_text(DEALS, encoding="utf-8")
    return folder


def test_dry_run_reads_files_through_their_imports(crm: Path) -> None:
    code, out, err = sfa("dry-run", "accounts.csv", "deals.csv", "--config", str(crm))
    assert code == 0, err
    decisions = [json.loads(line) for line in out.splitlines()]
    assert [(d["source"], d["type"], d["id"]) for d in decisions] == [
        ("accounts.csv", "customer", "ACME"), ("deals.csv", "opportunity", "D1"),
        ("deals.csv", "opportunity", "D2")]
    assert decisions[1]["status"] == "Closed Won" and decisions[1]["customer"] == "ACME"
    assert decisions[2]["warnings"][0].startswith("no-customer")


def test_forecast_reads_the_dates_of_the_import(crm: Path) -> None:
    code, out, err = sfa("forecast", "accounts.csv", "deals.csv", "--config", str(crm),
                         "--period", "month", "--format", "json")
    assert code == 0, err
    assert [row["period"] for row in json.loads(out)[:-1]] == ["2017-03", "2017-06"]


@pytest.mark.parametrize("command", ["dry-run", "apply", "explain", "forecast", "diff"])
def test_file_import_and_every_import_on_every_command(crm: Path, command: str) -> None:
    extra = {"explain": ["--id", "D1"], "diff": ["--base", str(crm)],
             "apply": ["--state", "s.db"]}.get(command, [])
    # other.csv matches no import: FILE::ID and --import name one
    for files in (["accounts.csv", "other.csv::crm-deals"],
                  ["--import", "crm-deals", "accounts.csv::crm-accounts", "other.csv"]):
        code, out, err = sfa(command, *files, "--config", str(crm), *extra)
        if command != "apply":  # apply ran once already: the second one is a no-op
            assert code == 0, err
        assert "other.csv" in out or command in ("diff", "forecast", "apply")
        assert "Traceback" not in err


@pytest.mark.parametrize("command", ["dry-run", "apply", "explain", "forecast", "diff"])
@pytest.mark.parametrize(("arguments", "message"), [
    (["--import", "crm-deal", "deals.csv"],
     "--import: unknown import 'crm-deal' (did you mean 'crm-deals'?)"),
    (["deals.csv::crm-acounts"],
     "deals.csv::crm-acounts: unknown import 'crm-acounts' (did you mean 'crm-accounts'?)"),
    (["deals.csv::zzz"], "unknown import 'zzz' (the configuration has: crm-deals, crm-accounts)"),
])
def test_unknown_import_is_a_usage_error(crm: Path, command: str, arguments: list[str],
                                         message: str) -> None:
    extra = {"explain": ["--id", "D1"], "diff": ["--base", str(crm)],
             "apply": ["--state", "s.db"]}.get(command, [])
    code, out, err = sfa(command, *arguments, "--config", str(crm), *extra)
    assert code == 2
    assert message in err
    assert out == ""
    assert not Path("s.db").exists()


def test_bad_date_fails_dry_run_and_apply_as_the_forecast(crm: Path) -> None:
    Path("deals.csv").write_text("deal,client,stage,close\nD1,ACME,Won,2017-03-01\n",
                                 encoding="utf-8")
    for command in (["dry-run"], ["apply", "--state", "s.db"], ["forecast"]):
        code, out, err = sfa(*command, "accounts.csv", "deals.csv", "--config", str(crm))
        assert code == 1, command
        assert "expected_close '2017-03-01' is not a date in the format '%d-%m-%y'" in err + out


@pytest.mark.parametrize(("close", "code"), [
    ("2027-05-01", 0), (" 2027-05-01 ", 0), ("", 0),
    ("01/05/2027", 1), ("2027-02-30", 1), ("2027-05-01T10:00", 1),
])
def test_expected_close_is_checked_without_imports(tmp_path: Path, close: str, code: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A dry-run that exits 0 is one whose forecast reads every date."""
    monkeypatch.chdir(REPO)
    opportunities = tmp_path / "opportunities.csv"
    opportunities.write_text("id,customer,status,amount,expected_close\n"
                             f"O-1,L-1001,Proposal,100,{close}\n", encoding="utf-8")
    got, out, err = sfa("dry-run", "examples/leads.csv", str(opportunities), "--config", str(REPO))
    assert got == code, err
    forecast = sfa("forecast", "examples/leads.csv", str(opportunities), "--config", str(REPO))
    assert forecast[0] == code
    if code:
        decision = json.loads(out.splitlines()[-1])
        assert decision["error"]["code"] == "bad-date"
        assert decision["error"]["field"] == "expected_close"


# -- the docs' promises ------------------------------------------------------------

CRM = REPO.parent / "shared" / "data" / "crm-opportunities"


def yaml_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]


def docs_imports() -> str:
    return next(b for b in yaml_blocks(REPO / "docs" / "imports.md") if "imports:" in b)


def test_readme_and_docs_imports_validate(tmp_path: Path) -> None:
    readme = next(b for b in yaml_blocks(REPO / "README.md") if b.startswith("imports:"))
    for i, text in enumerate((readme, docs_imports())):
        folder = shipped_with(tmp_path / str(i), text)
        code, out, err = sfa("validate", "--config", str(folder), "--format", "json")
        assert (code, json.loads(out)) == (0, []), err


@pytest.mark.skipif(not (CRM / "sales_pipeline.csv").exists(), reason="no shared CRM data")
def test_docs_worked_example_reads_the_crm_export_unchanged(tmp_path: Path) -> None:
    """docs/imports.md: 8,885 rows decided, exit 0; won deals of 2017: 10,005,534."""
    import hashlib

    folder = shipped_with(tmp_path, docs_imports())
    files = [str(CRM / "accounts.csv"), str(CRM / "sales_pipeline.csv")]
    before = [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files]
    code, out, err = sfa("dry-run", *files, "--config", str(folder))
    assert code == 0, err[-2000:]
    decisions = [json.loads(line) for line in out.splitlines()]
    assert len(decisions) == 8_885 and not any(d["error"] for d in decisions)
    assert sum(1 for d in decisions if d["type"] == "customer") == 85
    code, out, _ = sfa("forecast", *files, "--config", str(folder), "--by", "category",
                       "--period", "year", "--format", "json")
    assert code == 0
    closed = next(r for r in json.loads(out) if r["group"] == "closed" and r["period"] == "2017")
    assert closed["amount"] == 10_005_534
    assert [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files] == before


STAGES = ["Identified Opportunity", "In Discussion", "Proposal", "In Negotiation",
          "Closed Won", "Closed Lost"]


@pytest.mark.parametrize(("word", "hint"), [
    ("Won", " (did you mean 'Closed Won'?)"),        # exports shorten the names
    ("lost", " (did you mean 'Closed Lost'?)"),
    ("Proposl", " (did you mean 'Proposal'?)"),      # a close spelling first
    ("in", ""),                                       # two choices have the word: none
    ("Prospecting", ""),
])
def test_did_you_mean_also_offers_the_one_name_with_that_word(word: str, hint: str) -> None:
    assert did_you_mean(word, STAGES) == hint


def test_unknown_opportunity_status_won_suggests_closed_won(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    opportunities = tmp_path / "opportunities.csv"
    opportunities.write_text("id,customer,status\nO-1,L-1001,Won\n", encoding="utf-8")
    code, out, _ = sfa("dry-run", "examples/leads.csv", str(opportunities), "--config", str(REPO))
    assert code == 1
    error = json.loads(out.splitlines()[-1])["error"]
    assert error["message"] == "unknown opportunity status 'Won' (did you mean 'Closed Won'?)"


def test_fields_criteria_compare_as_dates_and_numbers_follow_the_import(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any field a criterion compares as a date or a number is read with the import's
    formats: the territory's criteria then see ISO dates and plain numbers."""
    folder = tmp_path / "config"
    (folder / "rules").mkdir(parents=True)
    (folder / "territories").mkdir()
    (folder / "rules" / "imports.yaml").write_text(
        "imports:\n  - id: web\n    files: ['web*.csv']\n    type: lead\n"
        "    date_format: '%d/%m/%Y'\n    numbers: {decimal: ','}\n"
        "    fields: {id: Ref, signup: Angemeldet}\n", encoding="utf-8")
    (folder / "rules" / "lifecycle.yaml").write_text(
        "statuses: [{id: LEAD-New, stage: lead, probability: 0}]\n", encoding="utf-8")
    (folder / "territories" / "t.yaml").write_text(
        "reps: [{id: ana}, {id: bob}]\n"
        "territories:\n"
        "  - {id: early-big, members: [{rep: ana}],"
        " when: {signup: {lt: 2027-04-01}, score: {gte: 1000}}}\n"
        "  - {id: rest, default: true, members: [{rep: bob}]}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    Path("web-leads.csv").write_text(
        "Ref,Angemeldet,score\nW1,15/03/2027,\"1.234,5\"\nW2,15/05/2027,\"2.000\"\n"
        "W3,15/03/2027,12\n", encoding="utf-8")
    code, out, err = sfa("dry-run", "web-leads.csv", "--config", str(folder))
    assert code == 0, err
    decisions = [json.loads(line) for line in out.splitlines()]
    assert [(d["id"], d["territory"], d["warnings"]) for d in decisions] == [
        ("W1", "early-big", []), ("W2", "rest", []), ("W3", "rest", [])]


def test_one_file_through_two_imports_is_read_twice_but_not_through_one(
        tmp_path: Path) -> None:
    """A flat export read as accounts and as leads is two readings; the same reading
    named twice would apply its rows twice (SPEC §9), so it is refused before any row."""
    engine = load(shipped_with(tmp_path, "imports:\n"
                               "  - {id: as-leads, files: [none*.csv], type: lead}\n"
                               "  - {id: as-customers, files: [none*.csv], type: customer}\n"))
    export = tmp_path / "export.csv"
    export.write_text("id,country\nX1,US\n", encoding="utf-8")
    both = list(Imports.of(engine).read([f"{export}::as-leads", f"{export}::as-customers"]))
    assert [(r.type, r.record) for r in both] == [("lead", {"id": "X1", "country": "US"}),
                                                   ("customer", {"id": "X1", "country": "US"})]
    with pytest.raises(InputError, match="the same file as .*export.csv, named before"):
        Imports.of(engine).read([f"{export}::as-leads", f"{export}::as-leads"])
