"""``sfa validate`` and ``sfa schema`` through click's runner and a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import CASES, REPO, WriteConfig

import sfa_rules
from sfa_rules import docgen
from sfa_rules.cli.main import main
from sfa_rules.cli.validate import summary
from sfa_rules.config import yamlread
from sfa_rules.errors import ConfigError, Problem

BROKEN = {
    "territories/reps.yaml": "reps:\n  - id: ana\n    activ: true\n",
    "territories/t.yaml": (
        "territories:\n"
        "  - id: west\n"
        "    members: [{rep: ana}]\n"
        "  - id: east\n"
        "    parent: wset\n"
        "    members: [{rep: ana}]\n"
    ),
}
# Valid, but a rep nobody refers to: one warning of the analysis.
WARNING_ONLY = {
    "territories/t.yaml": (
        "reps: [{id: ana}, {id: idle}]\n"
        "territories:\n"
        "  - {id: pool, default: true, members: [{rep: ana}]}\n"
    ),
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


STATUSES = """\
statuses:
  - {id: PROSPECT-A, stage: prospect, probability: 20}
  - {id: PROSPECT-B, stage: prospect, probability: 10}
"""
SHADOWED = """\
reps: [{id: ana}]
territories:
  - {id: us, priority: 10, when: {country: US}, members: [{rep: ana}]}
  - {id: us-west, priority: 20, when: {country: US, state: CA}, members: [{rep: ana}]}
"""


@pytest.mark.parametrize(("files", "codes"), [
    # An error in the lifecycle leaves the territories' proofs standing (as SPEC §12's
    # example shows both), and the status proofs, which read the lifecycle, unsaid.
    ({"rules/s.yaml": STATUSES + "lifecycle:\n  defaults: {new_prospect: PROSPECT-Z}\n",
      "territories/t.yaml": SHADOWED},
     ["unknown-status", "shadowed-territory"]),
    # An error in the territories: their proofs are not made, the statuses' are.
    ({"rules/s.yaml": STATUSES, "territories/t.yaml": SHADOWED.replace("ana}]}\n", "bob}]}\n", 1)},
     ["unknown-rep", "probability-not-monotonic"]),
    # A file that could not be read, or a section under an unknown key, may hold
    # anything: no proof is made.
    ({"rules/s.yaml": STATUSES, "territories/t.yaml": SHADOWED,
      "rules/broken.yaml": "sales_rules: [\n"}, ["yaml-syntax"]),
    ({"rules/s.yaml": STATUSES, "territories/t.yaml": SHADOWED,
      "rules/typo.yaml": "sales_rule: []\n"}, ["unknown-key"]),
    # A section repeated in one file: its second half is lost, nothing is proved.
    ({"rules/s.yaml": STATUSES + "settings: {domains: {country: [US, CA]}}\n",
      "territories/t.yaml": SHADOWED + "reps: [{id: bo}]\n"
                            "territories: [{id: ca, when: {country: CA}, members: [{rep: bo}]}]\n"},
     ["duplicate-key", "duplicate-key"]),
], ids=["lifecycle-error", "territory-error", "unreadable-file", "unknown-section",
        "repeated-section"])
def test_the_analysis_still_proves_what_no_error_touches(
        write_config: WriteConfig, files: dict[str, str], codes: list[str]) -> None:
    folder = write_config(files)
    code, out, _ = run("validate", "--config", str(folder), "--format", "json")
    assert code == 1
    assert sorted(p["code"] for p in json.loads(out)) == sorted(codes)
    with pytest.raises(ConfigError) as raised:  # SPEC §11: the list validate prints
        sfa_rules.load(folder)
    assert [p.to_dict() for p in raised.value.problems] == json.loads(out)


def test_text_output_is_one_sorted_line_per_problem(write_config: WriteConfig) -> None:
    code, out, err = run("validate", "--config", str(write_config(BROKEN)))
    assert code == 1
    assert out.splitlines() == [
        ("territories/reps.yaml:3:5: error: rep 'ana': unknown key 'activ' "
        "(did you mean 'active'?) [unknown-key]"),
        ("territories/t.yaml:5:13: error: territory 'east': parent: unknown territory 'wset' "
        "(did you mean 'west'?) [unknown-territory]"),
    ]
    assert err == "2 errors, 0 warnings in 2 files\n"


def test_a_value_holding_a_line_break_stays_on_its_problem_line(
        write_config: WriteConfig) -> None:
    """An id quoted with a line break in it: one line per problem still (a script
    reading the output line by line meets no forged problem line)."""
    folder = write_config({"territories/t.yaml": (
        'territories:\n  - id: "nl\\nx"\n    members: [{rep: "ana\\ngomez"}]\n')})
    code, out, _ = run("validate", "--config", str(folder))
    assert code == 1
    lines = out.splitlines()
    assert lines and all(line.startswith("territories/t.yaml:") for line in lines), lines
    assert any("'nl\\nx'" in line and "'ana\\ngomez'" in line for line in lines), lines


def test_json_output(write_config: WriteConfig) -> None:
    code, out, _ = run("validate", "--config", str(write_config(BROKEN)), "--format", "json")
    assert code == 1
    problems = json.loads(out)
    assert [sorted(p) for p in problems] == [
        ["code", "column", "file", "line", "message", "severity"]] * 2
    assert [(p["file"], p["line"], p["column"], p["code"]) for p in problems] == [
        ("territories/reps.yaml", 3, 5, "unknown-key"),
        ("territories/t.yaml", 5, 13, "unknown-territory"),
    ]


def test_warnings_pass_unless_strict(write_config: WriteConfig) -> None:
    folder = str(write_config(WARNING_ONLY))
    code, out, err = run("validate", "--config", folder)
    assert code == 0
    assert out == "territories/t.yaml:1:19: warning: rep 'idle' is in no territory, " \
        "override or default owner [idle-rep]\n"
    assert err == "0 errors, 1 warning in 1 file\n"
    code, out, err = run("validate", "--config", folder, "--strict")
    assert code == 1
    assert ": error: rep 'idle'" in out
    assert err == "1 error, 0 warnings in 1 file\n"


def test_clean_configuration_exits_0_with_only_the_summary(write_config: WriteConfig) -> None:
    code, out, err = run("validate", "--config", str(REPO))
    assert (code, out) == (0, "")
    assert err.startswith("0 errors, 0 warnings in ")


def test_json_of_a_clean_configuration_is_an_empty_list() -> None:
    code, out, _ = run("validate", "--config", str(REPO), "--format", "json")
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--config", "/no/such/folder"],
        ["validate", "--format", "xml"],
        ["validate", "--bogus"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert "Error:" in err and "Traceback" not in err


def test_config_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = run("validate", "--config", str(tmp_path / "file"))
    assert code == 2 and "is a file" in err


def test_no_configuration_below_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    code, out, err = run("validate", "--config", str(tmp_path))
    assert code == 1
    assert out.startswith(f"{tmp_path}:1:1: error: ") and "[no-configuration]" in out
    assert err == "1 error, 0 warnings in 0 files\n"


def test_default_folder_is_the_current_directory_then_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: WriteConfig
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("validate")
    assert code == 0 and err.startswith("0 errors")  # packaged defaults
    monkeypatch.chdir(write_config(BROKEN))
    code, out, _ = run("validate")
    assert code == 1 and "[unknown-territory]" in out


def test_summary_wording() -> None:
    def p(severity: str) -> Problem:
        return Problem("f", 1, 1, severity, "c", "m")

    assert summary([], 1) == "0 errors, 0 warnings in 1 file"
    assert summary([p("error")] * 3 + [p("warning")], 7) == "3 errors, 1 warning in 7 files"
    assert summary([p("info")] * 2, 2) == "0 errors, 0 warnings, 2 notes in 2 files"


def test_schema_is_the_json_schema_of_a_file() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert set(schema["properties"]) == {
        "settings", "sales_rules", "assignment", "statuses", "lifecycle",
        "opportunity_statuses", "forecast", "matching", "reps", "territories", "imports", "quotas",
        "follow_ups",
    }
    assert schema["additionalProperties"] is False
    # Aliases, as written in the YAML.
    assert "from" in schema["$defs"]["Window"]["properties"]


SINGLE_ITEMS = [  # a list of one item written as the item, as validate takes it
    {"lifecycle": {"transitions": [{"id": "t", "on": "opportunity.created", "from": {"stage": "lead",
                                                                         "status": "LEAD-New"},
                                    "to": "PROSPECT-A"}]}},
    {"territories": [{"id": 2027, "rules": "west-coast", "members": [{"rep": "ana"}]}]},
    {"settings": {"fields": {"country": "Country"}, "activity_kinds": "demo",
                  "domains": {"country": "US"}}},
    {"assignment": {"applies_to": "lead"}},
    {"follow_ups": [{"id": "f", "within": "2 days", "activity": "call",
                     "then": {"alert": "owner"}}]},
    {"quotas": [{"rep": "ana", "period": 2017, "amount": 1}]},
    {"matching": {"accounts": {"keys": "company"}, "duplicates": {"keys": "email"}}},
]


@pytest.fixture(scope="module")
def schema_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    code, out, _ = run("schema")
    assert code == 0
    return jsonschema.Draft202012Validator(json.loads(out))


@pytest.mark.parametrize("path", sorted(
    p.relative_to(REPO) for folder in ("rules", "territories", "examples/crm")
    for p in (REPO / folder).rglob("*.yaml")), ids=str)
def test_the_schema_takes_every_shipped_file(schema_validator: Any, path: Path) -> None:
    data = yamlread.load((REPO / path).read_text(encoding="utf-8"), str(path)).data
    assert [e.message for e in schema_validator.iter_errors(data)] == []


@pytest.mark.parametrize("data", SINGLE_ITEMS, ids=[next(iter(d)) for d in SINGLE_ITEMS])
def test_the_schema_takes_one_item_for_a_list(schema_validator: Any, data: dict[str, Any]) -> None:
    assert [e.message for e in schema_validator.iter_errors(data)] == []
    assert not schema_validator.is_valid({**data, "reps": [{"id": True}]})
    assert not schema_validator.is_valid({**data, "reps": [{"id": "  "}]})  # blank: empty


def test_sfa_command_in_a_real_process(write_config: WriteConfig) -> None:
    folder = write_config(BROKEN)
    sfa = Path(sys.executable).with_name("sfa")
    command = [str(sfa)] if sfa.exists() else [sys.executable, "-m", "sfa_rules"]
    done = subprocess.run([*command, "validate", "--config", str(folder)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == "2 errors, 0 warnings in 2 files\n"


def test_python_dash_m(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "sfa_rules", "validate"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False, env=env)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.startswith("0 errors, 0 warnings in ")


# -- the generated reference ------------------------------------------------------


def test_configuration_reference_is_up_to_date() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == docgen.render(), (
        "docs/configuration.md is stale: python -m sfa_rules.docgen > docs/configuration.md"
    )


def test_every_code_the_cases_expect_is_documented() -> None:
    reference = docgen.render()
    codes = set()
    for path in (CASES / "config").glob("*.yaml"):
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        codes |= {line.split()[-1] for line in case["expected"]}
    assert codes and all(f"`{code}`" in reference for code in codes), sorted(
        c for c in codes if f"`{c}`" not in reference)
