"""``sfa inspect`` (SPEC §16): column profiles, guessed formats, unknown values, and a
proposed ``imports:`` entry that ``sfa validate`` accepts (the round trip is tested)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO

from sfa_rules.cli.main import main

CRM = REPO.parent / "shared" / "data" / "crm-opportunities"
needs_crm = pytest.mark.skipif(not (CRM / "sales_pipeline.csv").exists(),
                               reason="the CRM export of shared/data is not here")


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    for sub in ("rules", "territories"):
        shutil.copytree(REPO / sub, folder / sub)
    return folder


def column_line(out: str, column: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"#   {column} "))


@pytest.mark.parametrize(("values", "holds"), [
    (["2027-01-31", "2026-12-01"], "date (%Y-%m-%d)"),
    (["31/01/2027", "01/02/2027"], "date (%d/%m/%Y)"),
    (["01/31/2027", "02/01/2027"], "date (%m/%d/%Y)"),
    (["20-10-16", "01-03-17", "31-12-17"], "date (%d-%m-%y)"),
    (["5 Mar 2027", "12 Apr 2027"], "date (%d %b %Y)"),
    (["1,234.50", "12", "-3"], "number"),
    (["1.234,50", "12,5"], "number (decimal ',')"),
    (["abc", "2027-01-01"], "text"),
    (["2027-01-31", "2026-12-01", "31/01/2027", "28/02/2027"],
     "text (dates: %Y-%m-%d, %d/%m/%Y)"),
    (["2027-01-31", "abc", "31/01/2027", "28/02/2027"], "text"),
    (["", ""], "empty"),
])
def test_column_kinds(tmp_path: Path, values: list[str], holds: str) -> None:
    data = tmp_path / "export.csv"
    data.write_text("id,value\n" + "".join(f'{i},"{v}"\n' for i, v in enumerate(values)),
                    encoding="utf-8")
    code, out, _ = sfa("inspect", str(data), "--config", str(REPO))
    assert code == 0
    line = column_line(out, "value")
    assert holds in line
    empty = sum(1 for v in values if not v) / len(values)
    assert f"{empty:.0%}" in line


def test_fields_by_alias_by_name_and_id(tmp_path: Path) -> None:
    data = tmp_path / "opportunities.csv"
    data.write_text("opportunity_id,Sales Rep,email,Probability (%),colour\nO1,ana,a@x.io,10,red\n",
                    encoding="utf-8")
    code, out, _ = sfa("inspect", str(data), "--config", str(REPO))
    assert code == 0
    assert "id (opportunity_id: the id)" in column_line(out, "opportunity_id")
    assert "owner (alias of settings.fields)" in column_line(out, "Sales Rep")
    assert "email (by name)" in column_line(out, "email")
    assert "probability (alias of settings.fields)" in column_line(out, "Probability (%)")
    assert column_line(out, "colour").rstrip().endswith("-")


@pytest.mark.parametrize(("name", "glob"), [
    ("Deals Export.csv", "Deals Export*.csv"),
    ("Deals [Q1] Export.csv", "Deals [[]Q1] Export*.csv"),  # a glob's brackets escaped
])
def test_proposal_round_trips_through_validate_and_dry_run(
        name: str, glob: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = shipped(tmp_path)
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(
        "id,account,Status,Expected Close,Amount\n"
        "D1,,Won,31/01/2027,\"$1,200.00\"\n"
        "D2,,Proposal,15/02/2027,\"$300.00\"\n"
        "D3,,Lost,28/02/2027,\n", encoding="utf-8")
    code, out, err = sfa("inspect", name, "--config", str(config))
    assert code == 0 and "proposed" in err
    proposal = yaml.safe_load(out)["imports"][0]
    assert proposal["files"] == [glob]
    assert proposal["date_format"] == "%d/%m/%Y"
    assert proposal["numbers"] == {"decimal": ".", "thousands": ","}
    assert proposal["fields"]["status"]["values"] == {"Won": "Closed Won", "Lost": "Closed Lost"}
    (config / "rules" / "imports.yaml").write_text(out, encoding="utf-8")
    code, problems, _ = sfa("validate", "--config", str(config), "--format", "json")
    assert (code, json.loads(problems)) == (0, [])
    code, decisions, err = sfa("dry-run", name, "--config", str(config))
    assert code == 0, err
    assert [json.loads(d)["status"] for d in decisions.splitlines()] == \
        ["Closed Won", "Proposal", "Closed Lost"]


@pytest.mark.parametrize(("types", "read_as", "unknown"), [
    # a row's own type column wins over the file name: each status by its row's kind
    (["lead", "opportunity", "opportunity"], "read as lead, opportunity (its type column)",
     ["Bogus"]),
    (["opportunity"] * 3, "read as opportunity", ["LEAD-Qualified", "Bogus"]),
    # a blank type cell is read as the file name says: leads.csv holds leads too
    (["", "opportunity", "opportunity"], "read as lead, opportunity (its type column)",
     ["Bogus"]),
])
def test_a_type_column_decides_which_statuses_are_known(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, types: list[str], read_as: str,
        unknown: list[str]) -> None:
    config = shipped(tmp_path)
    monkeypatch.chdir(tmp_path)
    statuses = ["LEAD-Qualified", "Proposal", "Bogus"]
    Path("leads.csv").write_text("type,id,customer,status,amount,expected_close\n" + "".join(
        f"{t},R{i},{'' if t == 'lead' else 'R0'},{st},{'' if t == 'lead' else 10},"
        f"{'' if t == 'lead' else '2027-01-31'}\n"
        for i, (t, st) in enumerate(zip(types, statuses, strict=True))), encoding="utf-8")
    code, out, _ = sfa("inspect", "leads.csv", "--config", str(config))
    assert code == 0
    assert read_as in out
    flagged = [line.split("'")[1] for line in out.splitlines() if " row (" in line
               or line.rstrip().endswith(" row")]
    assert flagged == unknown


def test_each_file_is_read_by_its_own_proposed_import(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``leads*.csv`` would take ``leads_eu.csv`` too (an import reads the first file name
    it matches): the narrower import is proposed first. ``leads.eu.csv`` has the stem of
    ``leads.csv``: its import, of other columns, reads its whole stem. A file of the
    same columns as one proposed for (a dated export), or of the same name in another
    folder, gets a note, not an import that could never be chosen."""
    config = shipped(tmp_path)
    monkeypatch.chdir(tmp_path)
    Path("eu").mkdir()
    Path("leads.csv").write_text("id,Company Name\nL1,Acme\n", encoding="utf-8")
    Path("leads.2026-01.csv").write_text("id,Company Name\nL4,Acme\n", encoding="utf-8")
    Path("leads.eu.csv").write_text("id,Account Name\nL3,Gamma\n", encoding="utf-8")
    for name in ("leads_eu.csv", "eu/leads_eu.csv"):
        Path(name).write_text("id,Firmenname\nL2,Beta GmbH\n", encoding="utf-8")
    files = ["leads.csv", "leads.eu.csv", "leads_eu.csv", "eu/leads_eu.csv", "leads.2026-01.csv"]
    code, out, _ = sfa("inspect", *files, "--config", str(config))
    assert code == 0
    proposed = yaml.safe_load(out)["imports"]
    assert [(i["id"], i["files"], i.get("fields")) for i in proposed] == [
        ("leads-2", ["leads.eu*.csv"], None),  # other columns, each read as company already
        ("leads-eu", ["leads_eu*.csv"], None),  # its column reads as company already
        ("leads", ["leads*.csv"], {"company": "Company Name"})]
    assert "  # eu/leads_eu.csv: read by the import of leads_eu.csv (the same columns)" in out
    assert "  # leads.2026-01.csv: read by the import of leads.csv (the same columns)" in out
    (config / "rules" / "imports.yaml").write_text(out, encoding="utf-8")
    code, decisions, err = sfa("dry-run", *files, "--config", str(config))
    assert code == 0 and "missing-column" not in decisions, err


def test_a_configuration_with_errors_is_exit_1_and_still_profiled(tmp_path: Path) -> None:
    config = shipped(tmp_path)
    (config / "rules" / "settings.yaml").write_text("settings:\n  bogus: 1\n", encoding="utf-8")
    data = tmp_path / "leads.csv"
    data.write_text("id,country\nL1,DE\n", encoding="utf-8")
    code, out, err = sfa("inspect", str(data), "--config", str(config))
    assert code == 1
    assert "the configuration has errors" in err
    assert "imports:" in out


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = sfa("inspect", str(tmp_path / "nope.csv"), "--config", str(REPO))
    assert (code, out) == (2, "")
    assert "no such file" in err


@needs_crm
def test_crm_pipeline_dates_and_unknown_stages() -> None:
    code, out, _ = sfa("inspect", str(CRM / "sales_pipeline.csv"), "--config", str(REPO))
    assert code == 0
    assert "date (%d-%m-%y)" in column_line(out, "close_date")
    assert "date (%d-%m-%y)" in column_line(out, "engage_date")
    assert "#     'Won': 4,238 rows (did you mean 'Closed Won'?)" in out
    assert "#     'Prospecting': 500 rows" in out
    proposal = yaml.safe_load(out)["imports"][0]
    assert (proposal["type"], proposal["date_format"]) == ("opportunity", "%d-%m-%y")
    assert proposal["fields"]["id"] == "opportunity_id"


@needs_crm
def test_crm_export_round_trip(tmp_path: Path) -> None:
    config = shipped(tmp_path)
    code, out, _ = sfa("inspect", str(CRM / "accounts.csv"), str(CRM / "sales_pipeline.csv"),
                       "--config", str(config))
    assert code == 0
    accounts = yaml.safe_load(out)["imports"][0]
    assert (accounts["type"], accounts["fields"]["id"]) == ("customer", "account")
    (config / "rules" / "imports.yaml").write_text(out, encoding="utf-8")
    code, problems, _ = sfa("validate", "--config", str(config), "--format", "json")
    assert (code, json.loads(problems)) == (0, [])


def test_inspect_redirected_into_rules_imports_yaml_validates(tmp_path: Path) -> None:
    """The documented workflow, as a shell runs it: `sfa inspect f.csv > rules/imports.yaml`
    in the configuration folder (the shell empties the file before sfa reads it)."""
    import subprocess
    import sys

    config = shipped(tmp_path)
    (config / "rules" / "imports.yaml").write_text("imports:\n  - id: old\n", encoding="utf-8")
    (config / "opportunities-2027.csv").write_text(
        "opportunity_id,account,deal_stage,close_date\nO1,,Won,31-01-27\n", encoding="utf-8")
    command = (f"{sys.executable} -m sfa_rules inspect opportunities-2027.csv "
               "> rules/imports.yaml && "
               f"{sys.executable} -m sfa_rules validate --format json")
    done = subprocess.run(command, shell=True, cwd=config, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    written = yaml.safe_load((config / "rules" / "imports.yaml").read_text(encoding="utf-8"))
    assert written["imports"][0]["date_format"] == "%d-%m-%y"


@needs_crm
def test_docs_show_what_inspect_prints_on_the_crm_export() -> None:
    text = (REPO / "docs" / "imports.md").read_text(encoding="utf-8")
    shown = text.split("# sales_pipeline.csv: 8,800 rows", 1)[1].split("```", 1)[0]
    code, out, _ = sfa("inspect", str(CRM / "accounts.csv"), str(CRM / "sales_pipeline.csv"),
                       "--config", str(REPO))
    assert code == 0
    lines = out.splitlines()
    for line in shown.strip().splitlines()[1:]:  # below the file's own line
        if line.strip() != "#   ...":
            assert line in lines


def test_a_utf16_export_profiles_as_its_utf8_copy(tmp_path: Path) -> None:
    """Excel's "Unicode" CSV (UTF-16 with a byte order mark) reads as the UTF-8 one."""
    text = "id,Société,created\n1,Générale,2027-01-31\n2,Mère,2026-12-01\n"
    (tmp_path / "utf8").mkdir()
    (tmp_path / "wide").mkdir()
    (tmp_path / "utf8" / "export.csv").write_text(text, encoding="utf-8")
    (tmp_path / "wide" / "export.csv").write_text(text, encoding="utf-16")
    utf8 = sfa("inspect", str(tmp_path / "utf8" / "export.csv"), "--config", str(REPO))
    wide = sfa("inspect", str(tmp_path / "wide" / "export.csv"), "--config", str(REPO))
    assert wide[0] == 0 and wide[1].replace("/wide/", "/utf8/") == utf8[1]
    assert "Société" in column_line(wide[1], "Société")


def test_a_semicolon_export_with_no_known_column_is_told_what_to_map(tmp_path: Path) -> None:
    """A German spreadsheet's export: semicolons, decimal commas, no column named as a
    field. Its columns are read, and the proposal says what to map, not that all is well."""
    data = tmp_path / "leads.csv"
    data.write_text("Kennung;Firma;Land;Betrag;Erstellt\n"
                    "L1;Müller GmbH;DE;1.234,50;31.01.2027\nL2;Schmidt AG;DE;12,00;01.02.2027\n",
                    encoding="utf-8")
    code, out, _ = sfa("inspect", str(data), "--config", str(REPO))
    assert code == 0
    assert "number (decimal ',')" in column_line(out, "Betrag")
    assert "date (%d.%m.%Y)" in column_line(out, "Erstellt")
    notes = [line.strip() for line in out.splitlines() if line.startswith("    # ")]
    assert notes == [
        "# fields: no column is named as a field the rules read: map each one they need as "
        "`field: COLUMN`",
        "# no column seems to hold the id: add `id: COLUMN` to fields",
        "# Betrag holds numbers with a decimal ',' but maps to no field: map it to read them "
        'as numbers (e.g. amount: Betrag) with numbers: {decimal: ",", thousands: "."}',
        "# Erstellt holds dates (%d.%m.%Y) but maps to no field: map it to read them as dates "
        "(e.g. created: Erstellt)",
    ]


def test_a_column_of_dates_in_two_formats_is_told_to_be_written_in_one(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    data.write_text("id,created\n1,2026-01-05\n2,2026-01-06\n3,2026-02-07\n"
                    "4,01/31/2026\n5,02/28/2026\n", encoding="utf-8")
    code, out, _ = sfa("inspect", str(data), "--config", str(REPO))
    assert code == 0
    assert "text (dates: %Y-%m-%d, %m/%d/%Y)" in column_line(out, "created")
    assert ("# created holds dates in 2 formats (%Y-%m-%d 3 rows, %m/%d/%Y 2 rows): an "
            "import reads one") in out
