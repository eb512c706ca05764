"""The record commands of ``sfa`` through click's runner (SPEC §8, §9, §10, §15).

What a user sees: exit codes, the exact JSON keys, the CSV/table shapes, messages on
stderr naming file and row, stdout kept for decisions. Paths are given relative to
the repository (the tests run from it), so decisions name ``examples/leads.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from conftest import CASES, REPO, WriteConfig, write_config_files

from sfa_rules.cli.main import main
from sfa_rules.lifecycle import durable as lifecycle_durable

GOLDEN = CASES / "cli"
EXAMPLES = ("examples/customers.csv", "examples/leads.csv", "examples/opportunities.csv",
            "examples/estimates.csv", "examples/sales_orders.csv")
CONFIG = ("--config", str(REPO))
# a lifecycle of one status, for configurations whose territories a test writes
ONE_STATUS = ("statuses:\n  - {id: LEAD-New, stage: lead, probability: 0}\n"
              "lifecycle:\n  defaults: {new_lead: LEAD-New}\n")

# SPEC §8: the keys of every decision, in order; transaction rows add customer and
# customer_status, opportunity rows also forecast; a lead matched to an account adds
# account after assigned_by, a merged duplicate merged_from after id (SPEC §19).
BASE_KEYS = ["source", "row", "type", "id", "owner", "territory", "assigned_by", "status",
             "stage", "probability", "previous_status", "transition", "event", "warnings",
             "error"]
EXTRA_KEYS = {
    "customer": set(),
    "lead": set(),
    "opportunity": {"customer", "customer_status", "forecast"},
    "estimate": {"customer", "customer_status"},
    "sales_order": {"customer", "customer_status"},
}
FORECAST_KEYS = ["group", "period", "count", "amount", "weighted_amount", "closed", "commit",
                 "best_case", "pipeline"]


class Result:
    """What a run shows: exit code, stdout, stderr."""

    def __init__(self, code: int, out: str, err: str, exc: BaseException | None) -> None:
        self.code, self.out, self.err, self.exc = code, out, err, exc

    def jsonl(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


def sfa(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is never an acceptable outcome
    return Result(result.exit_code, result.stdout, result.stderr, result.exception)


@pytest.fixture(autouse=True)
def _from_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def data_rows(path: str | Path) -> int:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def write(path: Path, text: str | bytes) -> str:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def copy_config(dest: Path) -> Path:
    for sub in ("rules", "territories"):
        shutil.copytree(REPO / sub, dest / sub)
    return dest


def show_state(state: str) -> dict[str, Any]:
    r = sfa("state", "show", "--state", state, "--format", "json", *CONFIG)
    assert r.code == 0, r.err
    return json.loads(r.out)


# -- dry-run over the examples -------------------------------------------------------


@pytest.fixture(scope="module")
def examples_run() -> Result:
    here = os.getcwd()
    os.chdir(REPO)
    try:
        return sfa("dry-run", *EXAMPLES, *CONFIG)
    finally:
        os.chdir(here)


def test_dry_run_over_the_examples_is_one_line_per_row_in_order(examples_run: Result) -> None:
    assert examples_run.code == 0, examples_run.err
    expected = [(name, n) for name in EXAMPLES for n in range(1, data_rows(name) + 1)]
    assert [(d["source"], d["row"]) for d in examples_run.jsonl()] == expected


def test_dry_run_keys_are_spec_8_in_order(examples_run: Result) -> None:
    seen = set()
    for d in examples_run.jsonl():
        seen.add(d["type"])
        extra = EXTRA_KEYS[d["type"]]
        if d.get("account") is not None:
            assert list(d)[list(d).index("assigned_by") + 1] == "account"
            extra = extra | {"account"}
        assert set(d) - set(BASE_KEYS) == extra, d
        assert [k for k in d if k not in extra] == BASE_KEYS
        assert d["error"] is None
    assert seen == set(EXTRA_KEYS)


def test_dry_run_of_the_examples_matches_the_golden_decisions(examples_run: Result) -> None:
    golden = (GOLDEN / "examples.dry-run.jsonl").read_text(encoding="utf-8")
    assert examples_run.out == golden


def test_dry_run_summary_goes_to_stderr(examples_run: Result) -> None:
    golden = (GOLDEN / "examples.dry-run.stderr").read_text(encoding="utf-8")
    assert examples_run.err == golden


# README of examples/: what each lead shows (SPEC §14).
README_FACTS = [
    ("L-1001", "ana.gomez", "us-west", "territory:us-west"),
    ("L-1002", "luis.perez", "us-west", "territory:us-west"),
    ("L-1003", "ana.gomez", "us-west", "territory:us-west"),
    ("L-1015", "emily.chen", "us-east", "territory:us-east"),  # john.smith away
    ("L-1019", "carla.diaz", None, "override:strategic-accounts"),
    ("L-1021", "ana.gomez", None, "kept"),
    ("L-1029", "sales.manager", "unassigned-pool", "territory:unassigned-pool"),
    ("L-1030", "sales.manager", "unassigned-pool", "territory:unassigned-pool"),
    ("L-1037", "sales.manager", "unassigned-pool", "territory:unassigned-pool"),
    ("L-1041", "emily.chen", "us-east", "account:C-9001"),
    ("L-1042", "carla.diaz", "unassigned-pool", "account:C-9002"),
    ("L-1043", "luis.perez", "canada", "account:C-9003"),
    ("L-1044", "ana.gomez", "us-west", "territory:us-west"),
]


@pytest.mark.parametrize(("lead", "owner", "territory", "how"), README_FACTS,
                         ids=[f[0] for f in README_FACTS])
def test_examples_assign_as_their_readme_says(
    examples_run: Result, lead: str, owner: str, territory: str | None, how: str
) -> None:
    (d,) = [d for d in examples_run.jsonl() if d["id"] == lead]
    assert (d["owner"], d["assigned_by"]) == (owner, how)
    if territory is not None:
        assert d["territory"] == territory


def test_format_csv_has_a_header_and_one_line_per_row() -> None:
    r = sfa("dry-run", "examples/leads.csv", "--format", "csv", *CONFIG)
    assert r.code == 0
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert len(rows) == data_rows("examples/leads.csv")
    assert list(rows[0])[:4] == ["source", "row", "type", "id"]
    assert (rows[0]["id"], rows[0]["owner"], rows[0]["error_code"]) == ("L-1001", "ana.gomez", "")


def test_format_table_is_for_people() -> None:
    r = sfa("dry-run", "examples/leads.csv", "--format", "table", *CONFIG)
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].split()[:4] == ["row", "type", "id", "owner"]
    assert len(lines) == 1 + data_rows("examples/leads.csv")
    assert "L-1001" in lines[1] and "ana.gomez" in lines[1]


def test_explain_flag_adds_a_trace_to_every_decision() -> None:
    r = sfa("dry-run", *EXAMPLES, "--explain", *CONFIG)
    assert r.code == 0
    rows = r.jsonl()
    assert all(list(d)[-1] == "trace" and isinstance(d["trace"], list) for d in rows)
    plain = sfa("dry-run", *EXAMPLES, *CONFIG).jsonl()
    assert [{k: v for k, v in d.items() if k != "trace"} for d in rows] == plain
    (l1015,) = [d for d in rows if d["id"] == "L-1015"]
    assert [s["step"] for s in l1015["trace"]][:2] == ["account", "override"]
    as_csv = sfa("dry-run", "examples/leads.csv", "--explain", "--format", "csv", *CONFIG)
    table = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert list(table[0])[-1] == "trace" and json.loads(table[0]["trace"])


def test_format_defaults_to_jsonl_when_not_a_terminal() -> None:
    plain = sfa("dry-run", "examples/leads.csv", *CONFIG)
    explicit = sfa("dry-run", "examples/leads.csv", "--format", "jsonl", *CONFIG)
    assert plain.out == explicit.out and plain.out.startswith('{"source":')


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_out_file_holds_what_stdout_would(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"decisions.{fmt}"
    to_stdout = sfa("dry-run", "examples/leads.csv", "--format", fmt, *CONFIG)
    to_file = sfa("dry-run", "examples/leads.csv", "--format", fmt, "--out", str(out), *CONFIG)
    assert to_file.code == 0
    assert to_file.out == ""
    assert out.read_text(encoding="utf-8").replace("\r\n", "\n") == \
        to_stdout.out.replace("\r\n", "\n")
    assert "44 rows" in to_file.err
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left behind


@pytest.mark.parametrize(("args", "code"), [
    (["--config", "{broken}"], 1),
    (["--config", str(REPO), "missing.csv"], 2),
], ids=["invalid-config", "missing-file"])
def test_out_file_is_untouched_by_a_failed_run(
    tmp_path: Path, write_config: WriteConfig, args: list[str], code: int
) -> None:
    broken = write_config({"territories/reps.yaml": "reps:\n  - id: ana\n    activ: true\n"})
    out = tmp_path / "decisions.jsonl"
    out.write_text("previous decisions\n", encoding="utf-8")
    args = [a.replace("{broken}", str(broken)) for a in args]
    r = sfa("dry-run", "examples/leads.csv", *args, "--out", str(out))
    assert r.code == code
    assert out.read_text(encoding="utf-8") == "previous decisions\n"
    assert r.out == ""


# -- exit codes -------------------------------------------------------------------------

BROKEN_CONFIG = {"territories/reps.yaml": "reps:\n  - id: ana\n    activ: true\n"}


def _unreadable(tmp_path: Path) -> str:
    if os.geteuid() == 0:
        return str(tmp_path)  # root reads everything: a folder is what it cannot read
    path = tmp_path / "leads.csv"
    path.write_text("id\nL-1\n", encoding="utf-8")
    path.chmod(0)
    return str(path)


EXIT_CODES: list[tuple[str, list[str], int, str]] = [
    ("ok", ["examples/leads.csv"], 0, "44 rows: 44 decided"),
    ("bad-row", ["{bad_row}"], 1, "leads.csv:2: missing-field"),
    ("invalid-config", ["examples/leads.csv", "--config", "{broken}"], 1,
     "reps.yaml:3:5: error:"),
    ("missing-file", ["missing/leads.csv"], 2, "missing/leads.csv: cannot read"),
    ("unreadable-file", ["{unreadable}"], 2, "sfa: "),
    ("bad-as-of", ["examples/leads.csv", "--as-of", "2026-13-01"], 2, "--as-of"),
    ("unknown-type", ["examples/leads.csv", "--type", "widget"], 2,
     "unknown record type 'widget'"),
    ("unknown-option", ["examples/leads.csv", "--bogus"], 2, "No such option '--bogus'"),
    ("garbage-state", ["examples/leads.csv", "--state", "examples/leads.csv"], 2,
     "is not an sfa state file"),
]


@pytest.mark.parametrize(("args", "code", "message"), [c[1:] for c in EXIT_CODES],
                         ids=[c[0] for c in EXIT_CODES])
def test_exit_codes(
    tmp_path: Path, write_config: WriteConfig, args: list[str], code: int, message: str
) -> None:
    bad = tmp_path / "rows" / "leads.csv"
    bad.parent.mkdir()
    write(bad, "id,country,state\nL-1,US,CA\n,US,CA\nL-3,US,NY\n")
    fill = {"{bad_row}": str(bad), "{broken}": str(write_config(BROKEN_CONFIG)),
            "{unreadable}": _unreadable(tmp_path / "rows")}
    args = [fill.get(a, a) for a in args]
    has_config = "--config" in args
    r = sfa("dry-run", *args, *(() if has_config else CONFIG))
    assert r.code == code, r.err
    assert message in r.err
    assert "Traceback" not in r.err
    if code == 2:
        assert r.out == ""  # a usage error decides nothing


@pytest.mark.parametrize(("args", "message"), [
    (["examples/leads.csv", "missing.csv", "--state", "{dir}/s.db"],
     "sfa: missing.csv: cannot read: no such file"),
    (["examples/leads.csv", "--state", "{dir}/no/such/folder/s.db"], "cannot create state"),
    (["examples/leads.csv", "--state", "{dir}/s.db", "--as-of", "2026-02-30"], "--as-of"),
    (["examples/leads.csv", "--state", "{dir}/s.db", "--lifecycle-engine", "rete"],
     "--lifecycle-engine"),
], ids=["missing-second-file", "state-in-a-missing-folder", "bad-as-of", "unknown-engine"])
def test_apply_usage_errors_process_no_row_and_write_no_state(
    tmp_path: Path, args: list[str], message: str
) -> None:
    r = sfa("apply", *[a.replace("{dir}", str(tmp_path)) for a in args], *CONFIG)
    assert r.code == 2
    assert message in r.err
    assert r.out == ""
    assert list(tmp_path.iterdir()) == []


def test_a_bad_row_is_reported_and_every_other_row_still_decided(tmp_path: Path) -> None:
    path = write(tmp_path / "leads.csv", "id,country,state\nL-1,US,CA\n,US,CA\nL-3,US,NY\n")
    r = sfa("dry-run", path, *CONFIG)
    assert r.code == 1
    rows = r.jsonl()
    assert [d["row"] for d in rows] == [1, 2, 3]
    assert [d["error"] for d in rows] == [
        None,
        {"code": "missing-field", "message": "required field 'id' is missing or empty",
         "field": "id"},
        None,
    ]
    assert [d["owner"] for d in rows] == ["ana.gomez", None, "john.smith"]
    assert f"{path}:2: missing-field" in r.err


def test_durable_engine_where_it_cannot_be_imported_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `available()` reports `_IMPORTED`; DurableTransitions itself checks `_IMPORTED`,
    # so both are switched off, as on a Python where the C extension does not load.
    monkeypatch.setattr(lifecycle_durable, "_IMPORTED", False)
    monkeypatch.setattr(lifecycle_durable, "available", lambda: False)
    r = sfa("dry-run", "examples/leads.csv", "--lifecycle-engine", "durable", *CONFIG)
    assert r.code == 2
    assert r.err.startswith("sfa: the durable lifecycle engine needs durable-rules")
    assert r.out == ""
    auto = sfa("dry-run", "examples/leads.csv", "--lifecycle-engine", "auto", *CONFIG)
    assert auto.code == 0  # auto falls back to the built-in evaluator


@pytest.mark.parametrize("engine", ["durable", "native"])
def test_both_lifecycle_engines_give_the_examples_decisions(
    examples_run: Result, engine: str
) -> None:
    if engine == "durable" and not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")
    r = sfa("dry-run", *EXAMPLES, "--lifecycle-engine", engine, *CONFIG)
    assert r.code == 0
    assert r.out == examples_run.out


@pytest.mark.parametrize("row", [
    "status_changes.csv:customer,status\nL-1001,NOPE\n",
    "opportunities.csv:id,customer,status\nO-1,L-1001,Proposl\n",
    "opportunities.csv:id,customer,status,probability\nO-1,L-1001,Proposal,150\n",
], ids=["unknown-status", "unknown-opportunity-status", "bad-probability"])
def test_a_transaction_row_in_error_still_shows_its_customer(tmp_path: Path, row: str) -> None:
    name, text = row.split(":", 1)
    path = write(tmp_path / name, text)
    r = sfa("dry-run", "examples/leads.csv", path, *CONFIG)
    assert r.code == 1
    last = r.jsonl()[-1]
    assert last["error"] is not None
    assert (last["customer"], last["customer_status"]) == ("L-1001", "LEAD-New")
    assert (last["owner"], last["territory"], last["stage"]) == ("ana.gomez", "us-west", "lead")


def test_undecodable_bytes_are_an_error_on_that_row_only(tmp_path: Path) -> None:
    path = write(tmp_path / "leads.csv",
                 b"id,country,state\nL-1,US,CA\nL-2,US,\xff\xfeCA\nL-3,US,NY\n")
    r = sfa("dry-run", path, *CONFIG)
    assert r.code == 1
    rows = r.jsonl()
    assert [d["row"] for d in rows] == [1, 2, 3]
    assert [d["error"]["code"] if d["error"] else None for d in rows] == \
        [None, "bad-encoding", None]
    assert rows[1]["error"]["field"] == "state"
    assert rows[1]["owner"] is None
    assert [rows[0]["owner"], rows[2]["owner"]] == ["ana.gomez", "john.smith"]
    assert f"{path}:2: bad-encoding" in r.err


# -- records in (SPEC §8), from tests/cases/cli/records-in.yaml -----------------------

RECORD_CASES = yaml.safe_load((GOLDEN / "records-in.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", RECORD_CASES, ids=[c["name"] for c in RECORD_CASES])
def test_records_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: dict[str, Any]) -> None:
    for name, text in case["files"].items():
        data = text.encode("utf-8")
        write(tmp_path / name, b"\xef\xbb\xbf" + data if name in case.get("bom", ()) else data)
    monkeypatch.chdir(tmp_path)
    r = sfa("dry-run", *case.get("order", case["files"]), *case.get("args", ()), *CONFIG)
    assert r.code == case["exit"], r.err
    got = [[d["source"], d["row"], d["type"], d["id"], d["error"] and d["error"]["code"]]
           for d in r.jsonl()]
    assert got == case["expect"]
    for source, row, _, _, code in case["expect"]:
        if code is not None:  # every record error names its file and row on stderr
            assert f"{source}:{row}: {code}" in r.err


def test_parquet_rows_are_decided_like_csv_rows(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"id": ["L-1", "L-2", None], "country": ["US", "US", "US"],
                      "state": ["CA", "NY", "CA"], "employees": [10, 5000, None]})
    parquet.write_table(table, tmp_path / "leads.parquet")
    write(tmp_path / "leads.csv", "id,country,state,employees\nL-1,US,CA,10\nL-2,US,NY,5000\n,US,CA,\n")
    from_parquet = sfa("dry-run", str(tmp_path / "leads.parquet"), *CONFIG)
    from_csv = sfa("dry-run", str(tmp_path / "leads.csv"), *CONFIG)
    assert from_parquet.code == from_csv.code == 1
    strip = [{k: v for k, v in d.items() if k != "source"} for d in from_csv.jsonl()]
    assert [{k: v for k, v in d.items() if k != "source"} for d in from_parquet.jsonl()] == strip
    assert f"{tmp_path / 'leads.parquet'}:3: missing-field" in from_parquet.err


@pytest.mark.parametrize(("name", "text", "status", "probability"), [
    ("status_changes.csv", "customer,status\nL-1001,LEAD-Bogus\n", "LEAD-New", 0),
    ("activities.csv", "customer,kind\nL-1001,carrier-pigeon\n", "LEAD-New", 0),
    ("opportunities.csv", "id,customer,status\nO-1,L-1001,Bogus\n", None, None),
])
def test_a_transaction_row_in_error_shows_its_customer_as_it_stands(
    tmp_path: Path, name: str, text: str, status: str | None, probability: int | None
) -> None:
    """Its status and probability are the customer's (an opportunity's are its own,
    which the row failed to give), with its owner, territory and stage."""
    r = sfa("dry-run", "examples/leads.csv", write(tmp_path / name, text), "--format", "jsonl",
            *CONFIG)
    assert r.code == 1
    d = r.jsonl()[-1]
    assert d["error"] is not None and d["customer_status"] == "LEAD-New"
    assert (d["status"], d["probability"], d["stage"], d["owner"]) == (
        status, probability, "lead", "ana.gomez")


# -- apply, state ---------------------------------------------------------------------


APPLY_TWICE = [
    pytest.param(("examples/leads.csv",), id="leads"),
    pytest.param(("examples/leads.csv", "examples/estimates.csv", "examples/sales_orders.csv"),
                 id="leads-estimates-orders"),
    pytest.param(EXAMPLES, id="all-examples"),
]


@pytest.mark.parametrize("files", APPLY_TWICE)
def test_apply_twice_changes_nothing_the_second_time(tmp_path: Path, files: tuple[str, ...]) -> None:
    state = str(tmp_path / "sfa-state.db")
    first = sfa("apply", *files, "--state", state, *CONFIG)
    assert first.code == 0, first.err
    assert f"(applied to {state})" in first.err
    before = show_state(state)
    second = sfa("apply", *files, "--state", state, *CONFIG)
    assert second.code == 0, second.err
    for a, b in zip(first.jsonl(), second.jsonl(), strict=True):
        assert (b["owner"], b["territory"]) == (a["owner"], a["territory"]), b
        if b["type"] == "lead":
            assert b["assigned_by"] == "known"
        else:
            assert b["transition"] is None, b
    assert "transitions:" not in second.err
    assert show_state(state) == before


@pytest.mark.parametrize("kind", ["opportunity", "status_change"])
def test_a_file_that_grew_at_its_end_does_not_replay_its_old_rows(
    tmp_path: Path, kind: str
) -> None:
    """A daily export that only grows: applied again after a later file moved a status
    on, its old rows are already-applied (they were replayed over the later change)."""
    state = str(tmp_path / "s.db")
    leads = write(tmp_path / "leads.csv", "id,country,state\nS-1,US,CA\n")
    if kind == "opportunity":
        first = "id,customer,status\nO-1,S-1,Proposal\n"
        later, grown = "id,customer,status\nO-1,S-1,In Negotiation\n", "O-2,S-1,Proposal\n"
        folder, name = "opportunities", "opportunities.csv"
    else:
        first = "customer,status\nS-1,LEAD-Qualified\n"
        later, grown = "customer,status\nS-1,LEAD-Dead\n", "S-1,LEAD-Qualified\n"
        folder, name = "status_changes", "status_changes.csv"
    daily = write(tmp_path / name, first)
    assert sfa("apply", leads, daily, "--state", state, *CONFIG).code == 0
    (tmp_path / folder).mkdir()
    assert sfa("apply", write(tmp_path / folder / name, later), "--state", state,
               *CONFIG).code == 0
    moved = show_state(state)
    Path(daily).write_text(first + grown, encoding="utf-8")  # the export grew by one row
    again = sfa("apply", daily, "--state", state, "--format", "jsonl", *CONFIG)
    assert again.code == 0, again.err
    old, new = again.jsonl()
    assert [w.split(":")[0] for w in old["warnings"]] == ["already-applied"]
    assert new["warnings"] == [] and new["error"] is None
    if kind == "opportunity":  # the new row is decided; the old one changed nothing
        assert old["customer_status"] == "PROSPECT-In Negotiation"
    else:  # a status brought back to an earlier value by a new row is a change again
        assert new["status"] == "LEAD-Qualified" and show_state(state) != moved


BACK_AGAIN = {  # Monday's row, Tuesday's, and what a copy of Monday's file leaves
    "opportunity": ("id,customer,status\nO-1,S-1,Proposal\n",
                    "id,customer,status\nO-1,S-1,In Negotiation\n", "PROSPECT-Proposal"),
    "status_change": ("customer,status\nS-1,LEAD-Qualified\n", "customer,status\nS-1,LEAD-Dead\n",
                      "LEAD-Qualified"),
}


@pytest.mark.parametrize("kind", BACK_AGAIN)
@pytest.mark.parametrize("same_name", [False, True], ids=["another-name", "same-name"])
def test_a_dry_run_with_no_state_decides_as_apply_to_a_new_state(
    tmp_path: Path, kind: str, same_name: bool
) -> None:
    """A dry run previews apply: the files of one run, a copy of Monday's among them,
    get the same decisions either way (SPEC §9, §10)."""
    monday, tuesday, _ = BACK_AGAIN[kind]
    folder = "opportunities" if kind == "opportunity" else "status_changes"
    files = [write(tmp_path / "leads.csv", "id,country,state\nS-1,US,CA\n")]
    for day, text in (("mon", monday), ("tue", tuesday), ("wed", monday)):
        (tmp_path / day).mkdir()
        name = f"{folder}.mon.csv" if same_name and day == "wed" else f"{folder}.{day}.csv"
        files.append(write(tmp_path / day / name, text))
    dry = sfa("dry-run", *files, "--format", "jsonl", *CONFIG)
    applied = sfa("apply", *files, "--state", str(tmp_path / "s.db"), "--format", "jsonl",
                  *CONFIG)
    assert (dry.code, applied.code) == (0, 0)
    assert dry.jsonl() == applied.jsonl()
    assert any(w.startswith("already-applied") for w in dry.jsonl()[-1]["warnings"]) \
        is same_name


@pytest.mark.parametrize("kind", BACK_AGAIN)
@pytest.mark.parametrize("same_name", [False, True], ids=["another-name", "same-name"])
def test_a_later_file_bringing_values_back_is_a_change_and_a_copy_is_not(
    tmp_path: Path, kind: str, same_name: bool
) -> None:
    """Wednesday's export holding what Monday's did is a change again (SPEC §6, §8: an
    opportunity's changed status raises `updated`; a status change is applied); the
    same file (its name, its content; wherever it lies) applied again is not (§9)."""
    monday, tuesday, back = BACK_AGAIN[kind]
    state = str(tmp_path / "s.db")
    leads = write(tmp_path / "leads.csv", "id,country,state\nS-1,US,CA\n")
    folder = "opportunities" if kind == "opportunity" else "status_changes"
    for day in ("mon", "tue", "wed"):
        (tmp_path / day).mkdir()
    for day, text in (("mon", monday), ("tue", tuesday)):
        path = write(tmp_path / day / f"{folder}.{day}.csv", text)
        assert sfa("apply", *([leads] if day == "mon" else []), path, "--state", state,
                   *CONFIG).code == 0
    name = f"{folder}.mon.csv" if same_name else f"{folder}.wed.csv"
    again = sfa("apply", write(tmp_path / "wed" / name, monday), "--state", state,
                "--format", "jsonl", *CONFIG)
    assert again.code == 0, again.err
    (row,) = again.jsonl()
    customer = row["customer_status"] if kind == "opportunity" else row["status"]
    if same_name:  # Monday's file once more: already applied, Tuesday's change stands
        assert [w.split(":")[0] for w in row["warnings"]] == ["already-applied"]
        assert customer != back
    else:
        assert row["warnings"] == [] and customer == back
        if kind == "opportunity":
            assert (row["event"], row["status"]) == ("opportunity.updated", "Proposal")


def test_a_known_record_left_without_an_owner_stays_so_until_reassign(tmp_path: Path) -> None:
    """Nobody eligible and no default owner: no owner, `assigned_by` null. A known record
    keeps its owner, none included (SPEC §5: the assignment is not redone; §9: the same
    input applied again changes no owner), even once the rep is back; `--reassign`
    assigns it, and a row that brings an owner keeps that one."""
    config = write_config_files(tmp_path / "config", {
        "rules/lifecycle.yaml": ONE_STATUS,
        "territories/t.yaml": "reps:\n  - {id: ana, active: false}\n"
                              "territories:\n  - {id: all, members: [{rep: ana}]}\n"})
    reps = config / "territories" / "t.yaml"
    leads, state = write(tmp_path / "leads.csv", "id\nU1\n"), str(tmp_path / "s.db")

    def apply(*extra: str, path: str = leads) -> list[tuple[Any, Any]]:
        run = sfa("apply", path, "--state", state, "--format", "jsonl", "--config", str(config),
                  *extra)
        return [(d["owner"], d["assigned_by"]) for d in run.jsonl()]

    assert apply() == [(None, None)]
    reps.write_text(reps.read_text(encoding="utf-8").replace("active: false", "active: true"),
                    encoding="utf-8")
    assert apply() == [(None, None)]
    assert apply("--reassign") == [("ana", "territory:all")]
    assert apply() == [("ana", "known")]
    reps.write_text(reps.read_text(encoding="utf-8").replace("active: true", "active: false"),
                    encoding="utf-8")
    state = str(tmp_path / "other.db")
    assert apply() == [(None, None)]
    (tmp_path / "owned").mkdir()
    owned = write(tmp_path / "owned" / "leads.csv", "id,owner\nU1,bob\n")
    assert apply(path=owned) == [("bob", "kept")]


def test_an_input_applied_again_changes_no_owner_when_capacity_freed_meanwhile(
        tmp_path: Path) -> None:
    """SPEC §9: ana (capacity 1) takes A, so B gets nobody; A's sale then closes it, which
    frees ana. Applied again, and B again later in one run: B keeps no owner."""
    config = tmp_path / "config"
    (config / "territories").mkdir(parents=True)
    shutil.copytree(REPO / "rules", config / "rules")
    (config / "rules" / "assignment.yaml").write_text(
        "assignment:\n  applies_to: [lead, prospect, customer]\n", encoding="utf-8")
    (config / "territories" / "t.yaml").write_text(
        "reps:\n  - {id: ana, capacity: {max_open: 1}}\n"
        "territories:\n  - {id: pool, default: true, members: [{rep: ana}]}\n",
        encoding="utf-8")
    rows = write(tmp_path / "in.csv",
                 "type,id,customer,amount\nlead,A,,\nlead,B,,\nsales_order,S1,A,100\nlead,B,,\n")
    state = str(tmp_path / "st.db")
    runs = [sfa("apply", rows, "--state", state, "--as-of", "2026-12-28", "--format", "jsonl",
                "--config", str(config)).jsonl() for _ in range(2)]
    for run in runs:
        assert [(d["id"], d["owner"]) for d in run] == [
            ("A", "ana"), ("B", None), ("S1", "ana"), ("B", None)]
    assert show_state(state)["loads"] == {"ana": 0}  # A is a customer now: nothing open


def test_reassign_redoes_assignment_but_keeps_locked_owners(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    leads = write(tmp_path / "leads.csv",
                  "id,country,state,owner_locked,created\n"
                  "L-1,US,CA,,2026-03-01\nL-2,US,CA,true,2026-03-01\nL-3,US,CA,,2026-03-01\n")
    first = sfa("apply", leads, "--state", state, *CONFIG)
    assert [d["owner"] for d in first.jsonl()] == ["ana.gomez", "luis.perez", "ana.gomez"]
    again = sfa("apply", leads, "--state", state, "--reassign", *CONFIG)
    assert again.code == 0
    got = [(d["owner"], d["assigned_by"]) for d in again.jsonl()]
    # us-west is weighted 2:1 (a, b, a, a, b, a): picks 4 and 5 go to L-1 and L-3
    assert got == [("ana.gomez", "territory:us-west"), ("luis.perez", "known"),
                   ("luis.perez", "territory:us-west")]
    plain = sfa("dry-run", leads, "--state", state, *CONFIG)
    assert {d["assigned_by"] for d in plain.jsonl()} == {"known"}


def test_dry_run_over_a_state_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    assert sfa("apply", "examples/leads.csv", "--state", str(state), *CONFIG).code == 0
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    r = sfa("dry-run", *EXAMPLES, "--state", str(state), *CONFIG)
    assert r.code == 0
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files


def test_state_show_lists_rotations_and_loads(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    assert sfa("apply", "examples/leads.csv", "--state", state, *CONFIG).code == 0
    shown = show_state(state)
    assert list(shown) == ["rotations", "loads"]
    territories = [r["territory"] for r in shown["rotations"]]
    assert territories[-1] == "unassigned-pool" and "us-west" in territories
    assert all(list(r) == ["territory", "distribution", "next", "rotation"]
               for r in shown["rotations"])
    assert sum(shown["loads"].values()) == 43  # 44 leads, one of them LEAD-Dead (closed)
    table = sfa("state", "show", "--state", state, *CONFIG)
    assert table.code == 0 and table.out.startswith("territory")


def test_state_next_does_not_advance_and_reset_restarts(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    assert sfa("apply", "examples/leads.csv", "--state", state, *CONFIG).code == 0

    def following(n: int) -> list[str]:
        r = sfa("state", "next", "us-east", "-n", str(n), "--state", state, *CONFIG)
        assert r.code == 0, r.err
        return [line.split()[1] for line in r.out.splitlines()]

    once = following(5)
    assert len(once) == 5 and following(5) == once
    assert once[:2] == ["emily.chen", "john.smith"]
    before = show_state(state)
    reset = sfa("state", "reset", "--territory", "us-east", "--state", state)
    assert reset.code == 0
    assert following(2) == ["john.smith", "emily.chen"]  # declared order again
    after = show_state(state)
    assert after["loads"] == before["loads"]
    assert [r for r in after["rotations"] if r["territory"] != "us-east"] == \
        [r for r in before["rotations"] if r["territory"] != "us-east"]


STATE_NEXT = [
    ("us-west", 6, None, ["ana.gomez", "luis.perez", "ana.gomez", "ana.gomez", "luis.perez",
                          "ana.gomez"], ""),
    ("us-east", 3, "2026-12-24", ["emily.chen"] * 3, ""),  # john.smith away
    ("us-other", 4, None, ["luis.perez", "john.smith"] * 2, ""),
    ("latam", 6, None, ["maria.rojas"] * 4, "sfa: only 4 of 6: nobody else is eligible\n"),
]


@pytest.mark.parametrize(("territory", "n", "as_of", "expected", "err"), STATE_NEXT,
                         ids=[c[0] for c in STATE_NEXT])
def test_state_next_simulates_distribution_and_eligibility(
    tmp_path: Path, territory: str, n: int, as_of: str | None, expected: list[str], err: str
) -> None:
    state = tmp_path / "none.db"  # no state yet: every rotation at its start
    r = sfa("state", "next", territory, "-n", str(n), "--state", str(state),
            *(["--as-of", as_of] if as_of else []), *CONFIG)
    assert r.code == 0
    assert r.out.splitlines() == [f"{i:>3}  {rep}" for i, rep in enumerate(expected, 1)]
    assert r.err == f"{err}sfa: no state at {state}: read as an empty state (`sfa apply ... " \
        f"--state {state}` creates it)\n"
    assert not state.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["state", "show", "--state", "{nowhere}"], "no state at"),
    (["state", "reset", "--territory", "us-east", "--state", "{nowhere}"], "no state at"),
    (["state", "next", "us-eats", "--config", str(REPO)], "did you mean 'us-east'"),
])
def test_state_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    args = [a.replace("{nowhere}", str(tmp_path / "none.db")) for a in args]
    r = sfa(*args)
    assert r.code == 2
    assert message in r.err
    assert not (tmp_path / "none.db").exists()


def test_state_reset_of_an_unknown_territory_is_a_usage_error(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    assert sfa("apply", "examples/leads.csv", "--state", state, *CONFIG).code == 0
    r = sfa("state", "reset", "--territory", "us-eats", "--state", state)
    assert r.code == 2
    assert "did you mean 'us-east'" in r.err


@pytest.mark.parametrize("command", [["schema"], ["state", "reset", "--territory", "us-east"],
                                     ["state", "history", "L-1001"]],
                         ids=["schema", "state-reset", "state-history"])
def test_every_command_takes_config(tmp_path: Path, command: list[str]) -> None:
    state = str(tmp_path / "s.db")
    assert sfa("apply", "examples/leads.csv", "--state", state, *CONFIG).code == 0
    extra = ["--state", state] if command[0] == "state" else []
    r = sfa(*command, *extra, *CONFIG)
    assert r.code == 0, r.err


def test_apply_defaults_to_sfa_state_db_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leads = write(tmp_path / "leads.csv", "id,country,state\nL-1,US,CA\n")
    monkeypatch.chdir(tmp_path)
    r = sfa("apply", leads, *CONFIG)
    assert r.code == 0
    assert "(applied to sfa-state.db)" in r.err
    assert (tmp_path / "sfa-state.db").exists()
    shown = sfa("state", "show", "--format", "json", *CONFIG)
    assert json.loads(shown.out)["loads"] == {"ana.gomez": 1}


# -- explain ----------------------------------------------------------------------------


def test_explain_prints_the_decisions_and_traces_of_that_id() -> None:
    r = sfa("explain", *EXAMPLES, "--id", "L-1015", *CONFIG)
    assert r.code == 0
    found = json.loads(r.out)
    # the lead itself, then its transactions (customer L-1015) if any
    assert found[0]["id"] == "L-1015" and found[0]["owner"] == "emily.chen"
    assert all("L-1015" in (d["id"], d.get("customer")) for d in found)
    steps = found[0]["trace"]
    assert steps[0] == {"step": "account", "matched": False,
                        "why": "no known customer with email_domain 'biscayne-travel.example', "
                               "company 'biscaynetravel'"}
    assert steps[1]["step"] == "override" and steps[1]["matched"] is False
    assert any("john.smith" in json.dumps(s) and "away" in json.dumps(s) for s in steps)


def test_explain_by_customer_finds_its_transactions() -> None:
    r = sfa("explain", *EXAMPLES, "--id", "L-1001", *CONFIG)
    assert r.code == 0
    found = json.loads(r.out)
    assert {d["type"] for d in found} == {"lead", "opportunity", "estimate", "sales_order"}
    assert all("trace" in d for d in found)


def test_explain_with_no_such_id_exits_1() -> None:
    r = sfa("explain", *EXAMPLES, "--id", "NOPE", *CONFIG)
    assert r.code == 1
    assert json.loads(r.out) == []
    assert "no row with id or customer 'NOPE'" in r.err


# -- forecast ---------------------------------------------------------------------------

FORECAST_FILES = ("examples/leads.csv", "examples/opportunities.csv")


@pytest.mark.parametrize("by", ["owner", "territory", "status", "category"])
@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_forecast_json_groups(by: str, period: str) -> None:
    r = sfa("forecast", *FORECAST_FILES, "--by", by, "--period", period, "--format", "json",
            *CONFIG)
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert all(list(row) == FORECAST_KEYS for row in rows)
    *groups, total = rows
    assert (total["group"], total["period"]) == (None, None)
    assert all(row["group"] is not None and row["period"] is not None for row in groups)
    # SPEC §7: sorted by group (categories too), then period; "(none)" after the named
    # groups, "unscheduled" after the periods
    keys = [(row["group"] == "(none)", row["group"], row["period"] == "unscheduled",
             row["period"]) for row in groups]
    assert keys == sorted(keys)
    for column in ("count", "amount", "weighted_amount", "pipeline"):
        assert sum(row[column] for row in groups) == pytest.approx(total[column])
    assert total["count"] == 15  # 14 opportunities counted (O-2010 lost), one repeated id
    pattern = {"month": r"^\d{4}-\d{2}$", "quarter": r"^\d{4}-Q[1-4]$", "year": r"^\d{4}$"}
    import re
    assert all(re.match(pattern[period], row["period"]) or row["period"] == "unscheduled"
               for row in groups)


def test_forecast_defaults_and_formats() -> None:
    default = sfa("forecast", *FORECAST_FILES, *CONFIG)
    by_owner = sfa("forecast", *FORECAST_FILES, "--by", "owner", "--period", "quarter",
                   "--format", "json", *CONFIG)
    assert default.out == by_owner.out  # json when piped; owner by quarter
    table = sfa("forecast", *FORECAST_FILES, "--format", "table", *CONFIG)
    assert table.code == 0 and "862,000.00" in table.out
    as_csv = sfa("forecast", *FORECAST_FILES, "--format", "csv", *CONFIG)
    rows = list(csv.reader(io.StringIO(as_csv.out)))
    assert len(rows) == 1 + len(json.loads(by_owner.out))
    assert "O-2014" in default.err and "[no-amount]" in default.err  # warnings on stderr


@pytest.mark.parametrize(("amount", "close", "code"), [
    ("abc", "2026-05-01", "bad-amount"),
    ("100", "2027-13-45", "bad-date"),
    ("100", "soon", "bad-date"),
    ("$100", "2026-05-01", "bad-amount"),
    ("1" + "0" * 15, "2026-05-01", "bad-amount"),
])
def test_forecast_record_error_names_file_and_row_and_exits_1(
    tmp_path: Path, amount: str, close: str, code: str
) -> None:
    """The same row is the same record error in dry-run: a run that exits 0 is a run
    whose forecast reads every amount and date."""
    opportunities = write(tmp_path / "opportunities.csv",
                          "id,customer,status,amount,expected_close\n"
                          f"O-1,L-1001,Proposal,{amount},{close}\n"
                          "O-2,L-1002,Proposal,100,2026-05-01\n")
    r = sfa("forecast", "examples/leads.csv", opportunities, "--format", "json", *CONFIG)
    assert r.code == 1
    assert f"{opportunities}:1: error:" in r.err and f"[{code}]" in r.err
    assert "Traceback" not in r.err
    total = json.loads(r.out)[-1]
    assert (total["count"], total["amount"]) == (1, 100)  # the rest is still counted
    dry = sfa("dry-run", "examples/leads.csv", opportunities, "--format", "jsonl", *CONFIG)
    *_, bad, good = [json.loads(line) for line in dry.out.splitlines()]
    assert dry.code == 1
    assert (bad["id"], bad["error"]["code"], good["error"]) == ("O-1", code, None)
    assert bad["error"]["field"] == ("amount" if code == "bad-amount" else "expected_close")


def test_forecast_includes_the_opportunities_of_the_state(tmp_path: Path) -> None:
    state = str(tmp_path / "s.db")
    assert sfa("apply", *FORECAST_FILES, "--state", state, *CONFIG).code == 0
    from_state = sfa("forecast", "examples/leads.csv", "--state", state, "--format", "json",
                     *CONFIG)
    from_files = sfa("forecast", *FORECAST_FILES, "--format", "json", *CONFIG)
    assert from_state.code == 0
    assert json.loads(from_state.out) == json.loads(from_files.out)
    assert "state:-: warning: opportunity 'O-2014'" in from_state.err


# -- diff -------------------------------------------------------------------------------


@pytest.fixture
def two_configs(tmp_path: Path) -> tuple[Path, Path]:
    base = copy_config(tmp_path / "base")
    new = copy_config(tmp_path / "new")
    na = new / "territories" / "north-america.yaml"
    na.write_text(na.read_text(encoding="utf-8").replace("- id: canada\n", "- id: canada-east\n"),
                  encoding="utf-8")
    return base, new


def test_diff_reports_only_the_changed_rows(two_configs: tuple[Path, Path]) -> None:
    base, new = two_configs
    r = sfa("diff", *EXAMPLES, "--base", str(base), "--config", str(new))
    assert r.code == 0
    changed = r.jsonl()
    canada = [d for d in sfa("dry-run", *EXAMPLES, "--config", str(base)).jsonl()
              if d["territory"] == "canada"]
    # C-9003, L-1022..L-1024, L-1043 (matched to the account C-9003: its territory), and
    # L-1023's opportunity and sales order
    assert len(canada) == 7
    assert [(d["source"], d["row"], d["id"]) for d in changed] == \
        [(d["source"], d["row"], d["id"]) for d in canada]
    for row in changed:
        assert list(row) == ["id", "source", "row", "before", "after"]
        assert list(row["before"]) == ["owner", "territory", "status", "probability", "error"]
        assert row["before"]["territory"] == "canada"
        assert row["after"] == {**row["before"], "territory": "canada-east"}
    assert r.err.splitlines() == ["76 rows, 7 changed", "territory canada -> canada-east: 7"]


@pytest.mark.parametrize(("same", "flag", "code"), [
    (True, True, 0), (False, True, 1), (False, False, 0),
])
def test_diff_exit_code(two_configs: tuple[Path, Path], same: bool, flag: bool, code: int) -> None:
    base, new = two_configs
    args = ["diff", "examples/leads.csv", "--base", str(base),
            "--config", str(base if same else new)]
    r = sfa(*args, *(["--exit-code"] if flag else []))
    assert r.code == code
    if same:
        assert r.out == "" and r.err.splitlines() == ["44 rows, 0 changed"]


def test_diff_leaves_the_state_byte_identical(tmp_path: Path, two_configs: tuple[Path, Path]) -> None:
    base, new = two_configs
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state = state_dir / "s.db"
    assert sfa("apply", "examples/leads.csv", "--state", str(state), *CONFIG).code == 0
    files = {p.name: p.read_bytes() for p in state_dir.iterdir()}
    # from the state every lead is known: the owners stay; the new leads of a second
    # file are decided by both configurations
    more = write(tmp_path / "leads.csv", "id,country,state\nN-1,CA,ON\nN-2,US,CA\n")
    r = sfa("diff", "examples/leads.csv", more, "--base", str(base), "--config", str(new),
            "--state", str(state), "--exit-code")
    assert r.code == 1
    assert [(d["id"], d["after"]["territory"]) for d in r.jsonl()] == [("N-1", "canada-east")]
    assert {p.name: p.read_bytes() for p in state_dir.iterdir()} == files


DIFF_EDITS = {
    # (file, old text, new text): the summary of `sfa diff examples/leads.csv`
    "territory-renamed": (
        [("territories/north-america.yaml", "- id: canada\n", "- id: canada-east\n")],
        ["44 rows, 4 changed", "territory canada -> canada-east: 4"],
    ),
    "no-default-owner-and-pool-rep-inactive": (
        [("rules/assignment.yaml", "  default_owner: {rep: sales.manager}\n", ""),
         ("territories/reps.yaml", "email: sales.manager@example.com\n    active: true",
          "email: sales.manager@example.com\n    active: false")],
        # L-1029, L-1030 (latam full), L-1037, L-1038 (no territory) lose their owner;
        # the territory reported is then the first matching one (latam)
        ["44 rows, 4 changed", "owner sales.manager -> (none): 4",
         "territory unassigned-pool -> latam: 2"],
    ),
}


@pytest.mark.parametrize(("edits", "summary"), DIFF_EDITS.values(), ids=DIFF_EDITS.keys())
def test_diff_summary_counts_moves_per_field_and_value_pair(
    tmp_path: Path, edits: list[tuple[str, str, str]], summary: list[str]
) -> None:
    new = copy_config(tmp_path / "new")
    for name, old, text in edits:
        path = new / name
        content = path.read_text(encoding="utf-8")
        assert old in content
        path.write_text(content.replace(old, text), encoding="utf-8")
    r = sfa("diff", "examples/leads.csv", "--base", str(REPO), "--config", str(new))
    assert r.code == 0
    assert r.err.splitlines() == summary
    assert len(r.jsonl()) == int(summary[0].split()[2])


def test_diff_table_format(two_configs: tuple[Path, Path]) -> None:
    base, new = two_configs
    r = sfa("diff", "examples/leads.csv", "--base", str(base), "--config", str(new),
            "--format", "table")
    lines = r.out.splitlines()
    assert lines[0].split() == ["source:row", "id", "field", "before", "after"]
    assert len(lines) == 5 and all("canada-east" in line for line in lines[1:])


def test_diff_csv_format_is_the_tables_rows(two_configs: tuple[Path, Path]) -> None:
    base, new = two_configs
    r = sfa("diff", "examples/leads.csv", "--base", str(base), "--config", str(new),
            "--format", "csv")
    assert r.code == 0
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert len(rows) == 4 and list(rows[0]) == ["source", "row", "id", "field", "before", "after"]
    assert {(d["field"], d["before"], d["after"]) for d in rows} == {
        ("territory", "canada", "canada-east")}


def test_diff_explain_adds_each_sides_trace(two_configs: tuple[Path, Path]) -> None:
    base, new = two_configs
    r = sfa("diff", "examples/leads.csv", "--base", str(base), "--config", str(new), "--explain")
    assert r.code == 0
    changed = r.jsonl()
    assert len(changed) == 4
    for row in changed:
        tried = [[t.get("id") for t in row[side]["trace"] if t.get("matched")]
                 for side in ("before", "after")]
        assert "canada" in tried[0] and "canada-east" in tried[1]
        assert {k: v for k, v in row["after"].items() if k != "trace"} == {
            **{k: v for k, v in row["before"].items() if k != "trace"}, "territory": "canada-east"}


def test_diff_reports_a_customer_status_an_opportunity_leaves_differently(tmp_path: Path) -> None:
    """An opportunity row's `status` is the opportunity's: the customer's status after it
    is compared too (`customer_status`, in before and after only when it differs)."""
    new = copy_config(tmp_path / "new")
    path = new / "rules" / "opportunities.yaml"
    text = path.read_text(encoding="utf-8")
    old = "  - id: In Negotiation\n"
    assert old in text
    head, tail = text.split(old)
    tail = tail.replace("customer_status: PROSPECT-In Negotiation", "customer_status: PROSPECT-Proposal", 1)
    path.write_text(head + old + tail, encoding="utf-8")
    r = sfa("diff", *EXAMPLES, "--base", str(REPO), "--config", str(new), "--exit-code")
    assert r.code == 1
    changed = [d for d in r.jsonl() if "customer_status" in d["before"]]
    assert changed and all(d["before"]["customer_status"] == "PROSPECT-In Negotiation"
                           and d["after"]["customer_status"] == "PROSPECT-Proposal"
                           for d in changed)
    assert "customer_status PROSPECT-In Negotiation -> PROSPECT-Proposal: " \
        f"{len(changed)}" in r.err


def test_diff_counts_the_rows_in_error_and_exits_1(tmp_path: Path) -> None:
    export = write(tmp_path / "export.csv", "id,country\nX-1,US\nX-2,CA\n")  # no type
    r = sfa("diff", export, "--base", str(REPO), *CONFIG)
    assert r.code == 1 and r.out == ""
    assert r.err.splitlines() == [
        "2 rows, 0 changed", "rows in error: 2 under --base, 2 under --config (see `sfa dry-run`)"]


def test_diff_writes_the_changed_rows_to_out(two_configs: tuple[Path, Path], tmp_path: Path) -> None:
    base, new = two_configs
    out = tmp_path / "changes.jsonl"
    r = sfa("diff", "examples/leads.csv", "--base", str(base), "--config", str(new),
            "--out", str(out))
    assert r.code == 0 and r.out == ""
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 and {d["after"]["territory"] for d in lines} == {"canada-east"}


def test_explain_exits_1_when_the_row_is_in_error(tmp_path: Path) -> None:
    rows = write(tmp_path / "opportunities.csv",
                 "id,customer,status\nO-1,L-nobody,Proposal\nO-2,L-1001,Proposal\n")
    bad = sfa("explain", "examples/leads.csv", rows, "--id", "O-1", "--format", "json", *CONFIG)
    assert bad.code == 1 and json.loads(bad.out)[0]["error"]["code"] == "unknown-customer"
    good = sfa("explain", "examples/leads.csv", rows, "--id", "O-2", "--format", "json", *CONFIG)
    assert good.code == 0 and json.loads(good.out)[0]["error"] is None


# -- validate, schema -------------------------------------------------------------------


def test_validate_the_shipped_configuration() -> None:
    r = sfa("validate", *CONFIG)
    assert r.code == 0
    assert " 0 errors" in " " + r.err


def test_schema_is_json_schema() -> None:
    r = sfa("schema")
    assert r.code == 0
    schema = json.loads(r.out)
    assert schema.get("type") == "object"
    assert {"settings", "territories", "reps"} <= set(schema["properties"])


def test_diff_with_an_invalid_base_exits_1_and_decides_nothing(write_config: WriteConfig) -> None:
    broken = write_config(BROKEN_CONFIG)
    r = sfa("diff", "examples/leads.csv", "--base", str(broken), *CONFIG)
    assert r.code == 1
    assert r.out == ""
    assert f"{broken}{os.sep}territories{os.sep}reps.yaml:3:5: error:" in r.err
    assert "nothing was processed" in r.err


def test_diff_names_every_problem_of_both_configurations_under_its_folder(
        write_config: WriteConfig) -> None:
    """Both sides have a territories/reps.yaml: each problem says whose it is."""
    base = write_config(BROKEN_CONFIG)
    new = write_config({"territories/reps.yaml": "reps:\n  - id: bob\n    actve: true\n"})
    r = sfa("diff", "examples/leads.csv", "--base", str(base), "--config", str(new))
    assert r.code == 1 and r.out == ""
    reported = [line.split(": error:")[0] for line in r.err.splitlines() if ": error:" in line]
    assert f"{base}{os.sep}territories{os.sep}reps.yaml:3:5" in reported
    assert f"{new}{os.sep}territories{os.sep}reps.yaml:3:5" in reported


def test_diff_names_an_empty_folder_once(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = sfa("diff", "examples/leads.csv", "--base", str(tmp_path / "empty"), *CONFIG)
    assert r.code == 1
    assert r.err.startswith(f"{tmp_path / 'empty'}:1:1: error: no *.yaml files")


def test_diff_rows_carry_an_id_when_the_new_side_has_none(tmp_path: Path) -> None:
    """The new configuration drops the import that read the id: the base's id is shown."""
    base = copy_config(tmp_path / "base")
    new = copy_config(tmp_path / "new")
    write(base / "rules" / "imports.yaml",
          "imports:\n  - id: web\n    files: [web*.csv]\n    type: lead\n"
          "    fields: {id: {column: ref}}\n")
    data = write(tmp_path / "web.csv", "ref,country,state\nW-1,US,CA\n")
    rows = sfa("diff", data, "--base", str(base), "--config", str(new), "--format", "jsonl")
    assert [json.loads(line)["id"] for line in rows.out.splitlines()] == ["W-1"]
    table = sfa("diff", data, "--base", str(base), "--config", str(new), "--format", "table")
    assert "None" not in table.out and " W-1 " in table.out


@pytest.mark.parametrize("command", [
    ["diff", "--base", "."], ["forecast"], ["explain", "--id", "L-1001"], ["dry-run"],
])
def test_a_missing_input_file_is_a_usage_error_for_every_command(command: list[str]) -> None:
    # sfa diff met the missing file first when digesting it: a traceback (issue 12)
    r = sfa(*command, "examples/leads.csv", "missing.csv", *CONFIG)
    assert r.code == 2
    assert "sfa: missing.csv: cannot read: no such file" in r.err
    assert r.out == ""


@pytest.mark.parametrize("command", [
    ("dry-run", *EXAMPLES, *CONFIG, "--format", "jsonl"),
    ("forecast", *EXAMPLES, *CONFIG, "--format", "json"),
    ("diff", *EXAMPLES, "--base", str(REPO), *CONFIG),
])
def test_a_command_leaves_the_collector_as_it_found_it(command: tuple[str, ...]) -> None:
    """A command tunes the garbage collector for its run and gives it back after, so a
    program (or a test session) that runs it in process keeps its own settings."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        assert sfa(*command).code in (0, 1)
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*before)


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf command of the ``sfa`` group, by its words (``("state", "history")``)."""
    found = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


@pytest.mark.parametrize(("words", "command"), _commands(main),
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_a_config_option(words: tuple[str, ...], command: Any) -> None:
    assert any("--config" in p.opts for p in command.params), " ".join(words)



LOAD_CONFIG = {
    "territories/t.yaml": (
        "reps: [{id: ana, capacity: {max_open: 1}}, {id: bo}]\n"
        "territories:\n"
        "  - {id: us, when: {country: US}, members: [{rep: ana}]}\n"
        "  - {id: pool, default: true, members: [{rep: bo}]}\n"
    ),
    "rules/s.yaml": (
        "statuses:\n"
        "  - {id: LEAD-New, stage: lead, probability: 0}\n"
        "  - {id: LEAD-Parked, stage: lead, probability: 0}\n"
        "lifecycle: {defaults: {new_lead: LEAD-New}}\n"
    ),
}


def test_loads_are_counted_as_the_configuration_of_the_run_says(
        write_config: WriteConfig, tmp_path: Path) -> None:
    """SPEC §4: a record stops counting when its status becomes closed; the state's
    counts were made under the configuration it was written with."""
    before = write_config(LOAD_CONFIG)
    after = write_config({**LOAD_CONFIG, "rules/s.yaml": LOAD_CONFIG["rules/s.yaml"].replace(
        "{id: LEAD-Parked, stage: lead, probability: 0}",
        "{id: LEAD-Parked, stage: lead, probability: 0, closed: true}")})
    state = str(tmp_path / "st.db")
    leads = tmp_path / "leads.csv"

    def apply(config: Path, *rows: str) -> list[str | None]:
        leads.write_text("id,country,status\n" + "".join(f"{r}\n" for r in rows))
        r = sfa("apply", str(leads), "--type", "lead", "--state", state,
                "--config", str(config), "--format", "jsonl")
        assert r.code == 0, r.err
        return [json.loads(line)["owner"] for line in r.out.splitlines()]

    assert apply(before, "L-1,US,LEAD-Parked", "L-2,US,") == ["ana", "bo"]  # ana is full
    assert apply(before, "L-3,US,") == ["bo"]
    # LEAD-Parked is closed now: L-1 no longer counts, and ana takes a lead again
    shown = json.loads(sfa("state", "show", "--state", state, "--config", str(after),
                           "--format", "json").out)
    assert shown["loads"]["ana"] == 0
    assert apply(after, "L-4,US,") == ["ana"]


@pytest.mark.parametrize("command", [
    ["dry-run", "examples/leads.csv"],
    ["explain", "examples/leads.csv", "--id", "L-1001"],
    ["diff", "examples/leads.csv", "--base", str(REPO)],
    ["forecast", "examples/leads.csv", "examples/opportunities.csv"],
    ["state", "next", "us-west"],
])
def test_a_state_to_read_that_does_not_exist_is_said_to_be_read_as_empty(
        command: list[str], tmp_path: Path) -> None:
    """A typo in a production state's path would otherwise preview every record as new."""
    typo = str(tmp_path / "typo.db")
    shown = sfa(*command, "--state", typo, *CONFIG)
    assert shown.code == 0, shown.err
    assert shown.err.endswith(f"sfa: no state at {typo}: read as an empty state (`sfa apply "
                              f"... --state {typo}` creates it)\n")  # after the run's summary
    assert not Path(typo).exists()
    if command[0] != "state":  # whose --state has a default, sfa-state.db
        assert "no state at" not in sfa(*command, *CONFIG).err  # no --state: none to read
    refused = sfa(*command, "--state", typo, "--type", "bogus", *CONFIG) \
        if command[0] != "state" else sfa(*command, "--state", typo, "-n", "x", *CONFIG)
    assert refused.code == 2 and "no state at" not in refused.err  # the run read nothing


def test_a_distribution_changed_between_runs_goes_on_or_restarts_and_says_so(
        tmp_path: Path) -> None:
    """SPEC §4: a round robin gives each record to the member after the one who got the
    previous record, whatever distribution gave that one; a weighted rotation cannot go
    on from a round robin's (no current weights): it starts again, and the summary says so."""
    config = write_config_files(tmp_path / "config", {"rules/lifecycle.yaml": ONE_STATUS})
    plan = config / "territories" / "t.yaml"
    plan.parent.mkdir()
    state = str(tmp_path / "s.db")

    def apply(distribution: str, ids: str) -> tuple[list[str], str]:
        plan.write_text("reps: [{id: a}, {id: b}, {id: c}]\nterritories:\n"
                        "  - {id: t, members: [{rep: a}, {rep: b}, {rep: c}], "
                        f"distribution: {distribution}}}\n", encoding="utf-8")
        leads = write(tmp_path / "leads.csv", "id\n" + "\n".join(ids.split()) + "\n")
        run = sfa("apply", leads, "--state", state, "--format", "jsonl", "--config", str(config))
        return [d["owner"] for d in run.jsonl()], run.err

    assert apply("weighted", "A1 A2")[0] == ["a", "b"]
    owners, err = apply("round_robin", "B1 B2 B3")
    assert owners == ["c", "a", "b"] and "restarted" not in err
    owners, err = apply("weighted", "C1 C2")
    assert owners == ["a", "b"]
    assert "notice: rotation of territory t restarted: distribution changed" in err
