"""Decisions out (SPEC §8, §10): the writers' exact output, the atomic file, the summary."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfa_rules.engine.decision import Decision, warning_code
from sfa_rules.report.writers import (
    CSV_COLUMNS,
    CsvWriter,
    JsonlWriter,
    OutputError,
    Summary,
    TableWriter,
    make_writer,
    open_output,
)

LEAD = Decision(
    "leads.csv",
    2,
    "lead",
    "L-1001",
    owner="ana.gomez",
    territory="us-west",
    assigned_by="territory:us-west",
    status="LEAD-New",
    stage="lead",
    probability=0,
).to_dict()
OPPORTUNITY = Decision(
    "data/opportunities.csv",
    7,
    "opportunity",
    "O-17",
    owner="ana.gomez",
    territory="us-west",
    assigned_by="known",
    status="Proposal",
    stage="prospect",
    probability=50,
    previous_status="LEAD-New",
    transition="opportunity-makes-prospect",
    event="opportunity.created",
    warnings=("amount is missing: counted as 0", "close date, missing"),
    customer="L-1001",
    customer_status="PROSPECT-Identified Opportunity",
    forecast="best_case",
).to_dict()
ERROR = Decision(
    "leads.csv",
    3,
    "lead",
    None,
    error={"code": "missing-field", "message": "the row has no 'id'", "field": "id"},
).to_dict()
DECISIONS = [LEAD, OPPORTUNITY, ERROR]


def render(fmt: str, decisions: list[Any], **options: Any) -> str:
    stream = io.StringIO()
    writer = make_writer(fmt, stream, **options)
    for decision in decisions:
        writer.write(decision)
    writer.finish()
    return stream.getvalue()


# -- JSON Lines ------------------------------------------------------------------------------


def test_jsonl_golden() -> None:
    assert render("jsonl", DECISIONS) == (
        '{"source":"leads.csv","row":2,"type":"lead","id":"L-1001","owner":"ana.gomez",'
        '"territory":"us-west","assigned_by":"territory:us-west","status":"LEAD-New",'
        '"stage":"lead","probability":0,"previous_status":null,"transition":null,'
        '"event":null,"warnings":[],"error":null}\n'
        '{"source":"data/opportunities.csv","row":7,"type":"opportunity","id":"O-17",'
        '"customer":"L-1001","customer_status":"PROSPECT-Identified Opportunity",'
        '"owner":"ana.gomez","territory":"us-west","assigned_by":"known","status":"Proposal",'
        '"stage":"prospect","probability":50,"forecast":"best_case",'
        '"previous_status":"LEAD-New","transition":"opportunity-makes-prospect",'
        '"event":"opportunity.created","warnings":["amount is missing: counted as 0",'
        '"close date, missing"],"error":null}\n'
        '{"source":"leads.csv","row":3,"type":"lead","id":null,"owner":null,"territory":null,'
        '"assigned_by":null,"status":null,"stage":null,"probability":null,'
        '"previous_status":null,"transition":null,"event":null,"warnings":[],'
        '"error":{"code":"missing-field","message":"the row has no \'id\'","field":"id"}}\n'
    )


def test_jsonl_keeps_text_as_text_and_the_trace() -> None:
    decision = {**LEAD, "owner": "josé.núñez", "trace": [{"territory": "us-west", "matched": True}]}
    line = render("jsonl", [decision])
    assert '"owner":"josé.núñez"' in line
    assert line.endswith(',"trace":[{"territory":"us-west","matched":true}]}\n')
    assert json.loads(line) == decision


_values = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _values, max_size=8))
def test_jsonl_is_one_line_that_reads_back(decision: dict[str, Any]) -> None:
    text = render("jsonl", [decision])
    assert text.count("\n") == 1 and text.endswith("\n")
    assert json.loads(text) == decision
    assert list(json.loads(text)) == list(decision)  # key order kept


_texts = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(['a,"owner":b', "ñ\n\"\\"]))
_decisions = st.builds(
    Decision,
    source=_texts, row=st.one_of(st.none(), st.integers(0, 10**7)),
    type=st.one_of(st.none(), st.sampled_from(["lead", "customer", "opportunity", "invoice"])),
    id=_texts, owner=_texts, territory=_texts, assigned_by=_texts, status=_texts,
    stage=_texts,
    probability=st.one_of(st.none(), st.sampled_from([0, 0.0, 50, 12.5, 100])),
    previous_status=_texts, transition=_texts, event=_texts,
    warnings=st.lists(st.text(max_size=5), max_size=2).map(tuple),
    error=st.one_of(st.none(), st.just({"code": "bad-row", "message": "m", "field": None})),
    customer=_texts, forecast=_texts,
    trace=st.one_of(st.none(), st.just(({"step": "known"},))),
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(_decisions, min_size=1, max_size=4))
def test_a_decision_writes_as_its_dict_does(decisions: list[Decision]) -> None:
    """The JSON Lines fast path (cached outcomes) gives exactly the dict's JSON, also
    for values equal across types (0 and 0.0) and text that looks like JSON."""
    for fmt in ("jsonl", "csv", "table"):
        assert render(fmt, decisions) == render(fmt, [d.to_dict() for d in decisions])
    for d in decisions:
        assert json.loads(d.to_json()) == d.to_dict()
        assert list(json.loads(d.to_json())) == list(d.to_dict())


# -- CSV -------------------------------------------------------------------------------------

CSV_HEADER = (
    "source,row,type,id,customer,customer_status,owner,territory,assigned_by,status,stage,"
    "probability,forecast,previous_status,transition,event,warnings,error_code,error_message,"
    "error_field,account,merged_from,alert"
)


def test_csv_golden() -> None:
    assert render("csv", DECISIONS) == (
        f"{CSV_HEADER}\r\n"
        "leads.csv,2,lead,L-1001,,,ana.gomez,us-west,territory:us-west,LEAD-New,lead,0"
        ",,,,,,,,,,,\r\n"
        "data/opportunities.csv,7,opportunity,O-17,L-1001,PROSPECT-Identified Opportunity,"
        "ana.gomez,us-west,known,Proposal,prospect,50,best_case,LEAD-New,"
        'opportunity-makes-prospect,opportunity.created,"amount is missing: counted as 0; '
        'close date, missing",,,,,,\r\n'
        "leads.csv,3,lead,,,,,,,,,,,,,,,missing-field,the row has no 'id',id,,,\r\n"
    )


def test_csv_without_rows_has_its_header() -> None:
    assert render("csv", []) == CSV_HEADER + "\r\n"


def test_csv_with_explain_adds_the_trace_as_json() -> None:
    trace = [{"override": "strategic-accounts", "matched": False, "why": "industry"}]
    text = render("csv", [{**LEAD, "trace": trace}, ERROR], explain=True)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == [*CSV_COLUMNS, "trace"]
    assert json.loads(rows[0]["trace"]) == trace
    assert rows[1]["trace"] == ""  # a row without a trace


@settings(max_examples=100, deadline=None)
@given(
    owner=st.text(max_size=12),
    warnings=st.lists(st.text(max_size=8).filter(lambda w: "; " not in w), max_size=3),
    message=st.text(max_size=20),
)
@pytest.mark.parametrize("raw", [True, False])
def test_csv_reads_back_cell_for_cell(
    raw: bool, owner: str, warnings: list[str], message: str
) -> None:
    """Commas, quotes and newlines in values survive a CSV reader; without --csv-raw a
    value a spreadsheet would run gets a leading ' and nothing else changes."""
    decision = {
        **LEAD,
        "owner": owner,
        "warnings": warnings,
        "error": {"code": "bad-date", "message": message, "field": "created"},
    }
    (row,) = csv.DictReader(io.StringIO(render("csv", [decision], csv_raw=raw), newline=""))

    def shown(value: str) -> str:
        return value if raw or value[:1] not in "=+-@\t\r" or not value else "'" + value

    assert row["owner"] == shown(owner)
    assert row["warnings"] == shown("; ".join(warnings))
    assert (row["error_code"], row["error_message"], row["error_field"]) == (
        "bad-date",
        shown(message),
        "created",
    )


# -- table -----------------------------------------------------------------------------------


def test_table_golden() -> None:
    """The table shows each row's warnings (SPEC §20), ``-`` when it has none."""
    assert render("table", DECISIONS) == (
        "row  type         id      owner      territory  assigned_by        status    "
        "probability  warnings                                              error\n"
        "  2  lead         L-1001  ana.gomez  us-west    territory:us-west  LEAD-New  "
        "         0%  -                                                     -\n"
        "  7  opportunity  O-17    ana.gomez  us-west    known              Proposal  "
        "        50%  amount is missing: counted as 0; close date, missing  -\n"
        "  3  lead         -       -          -          -                  -         "
        "          -  -                                                     "
        "missing-field: the row has no 'id'\n"
    )


def test_table_sizes_columns_from_the_first_rows_then_streams() -> None:
    """Widths come from the sample; later rows keep them, cut with … when longer; a
    newline in a value does not break the line."""
    stream = io.StringIO()
    writer = TableWriter(stream, sample_rows=2, max_width=12)
    writer.write({**LEAD, "id": "L-1"})
    assert stream.getvalue() == ""  # still sizing the columns
    writer.write({**LEAD, "id": "L-22", "owner": "a.very.long.owner.name"})
    lines_after_sample = stream.getvalue().splitlines()
    writer.write({**LEAD, "id": "L-333333", "owner": "x\ny"})
    writer.finish()
    lines = stream.getvalue().splitlines()
    assert lines[:3] == lines_after_sample
    assert lines == [
        "row  type  id    owner         territory  assigned_by   status    probability  warnings  error",
        "  2  lead  L-1   ana.gomez     us-west    territory:u…  LEAD-New           0%  -         -",
        "  2  lead  L-22  a.very.long…  us-west    territory:u…  LEAD-New           0%  -         -",
        "  2  lead  L-3…  x y           us-west    territory:u…  LEAD-New           0%  -         -",
    ]


def test_table_without_rows_is_its_header() -> None:
    assert render("table", []) == (
        "row  type  id  owner  territory  assigned_by  status  probability  warnings  error\n"
    )


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        make_writer("xml", io.StringIO())


@pytest.mark.parametrize("writer", [JsonlWriter, CsvWriter, TableWriter])
def test_writers_leave_the_stream_open(writer: type[Any]) -> None:
    stream = io.StringIO()
    w = writer(stream)
    w.write(LEAD)
    w.finish()
    assert not stream.closed and "L-1001" in stream.getvalue()


# -- the atomic output file ------------------------------------------------------------------


def _leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def test_output_file_is_written_and_replaced(tmp_path: Path) -> None:
    target = tmp_path / "decisions.jsonl"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    with open_output(target) as stream:
        stream.write("new ✓\n")
        assert target.read_text(encoding="utf-8") == "old\n"  # not before the end
    assert target.read_text(encoding="utf-8") == "new ✓\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the old file's mode is kept
    assert _leftovers(tmp_path, target.name) == []


def test_new_output_file_gets_the_usual_mode(tmp_path: Path) -> None:
    target = tmp_path / "decisions.csv"
    with open_output(str(target)) as stream:
        stream.write("x\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_failure_midway_leaves_the_old_file_and_no_temp(
    failure: type[BaseException], tmp_path: Path
) -> None:
    target = tmp_path / "decisions.jsonl"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(failure), open_output(target) as stream:
        writer = JsonlWriter(stream)
        for _ in range(1000):
            writer.write(LEAD)
        raise failure()
    assert target.read_text(encoding="utf-8") == "old\n"
    assert _leftovers(tmp_path, target.name) == []


def test_a_killed_write_leaves_nothing_behind_the_next_one(tmp_path: Path) -> None:
    """A run killed with SIGKILL leaves its temporary file; the next write of the same
    target removes it (its process is gone), not a running writer's or another file's."""
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    target = tmp_path / "out.jsonl"
    stale = tmp_path / f".out.jsonl.{gone}-0a1b2c3d.tmp"
    running = tmp_path / f".out.jsonl.{os.getpid()}-0a1b2c3d.tmp"
    other = tmp_path / f".other.jsonl.{gone}-0a1b2c3d.tmp"
    for path in (stale, running, other):
        path.write_text("partial")
    with open_output(target) as stream:
        stream.write("new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.jsonl", running.name, other.name]
    )


def test_failure_with_no_old_file_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "decisions.jsonl"
    with pytest.raises(RuntimeError), open_output(target) as stream:
        stream.write("partial")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_output_into_a_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with (
        pytest.raises(OutputError, match=r"nope/out.csv: cannot write: No such file"),
        open_output(tmp_path / "nope" / "out.csv"),
    ):
        pass


def test_output_onto_a_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot write: is a directory"), open_output(tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []


def test_no_path_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with open_output(None) as stream:
        JsonlWriter(stream).write({"id": "L-1"})
    assert capsys.readouterr().out == '{"id":"L-1"}\n'


# -- summary ---------------------------------------------------------------------------------


def _decision(data: Mapping[str, Any], **changes: Any) -> Decision:
    return Decision.from_dict({**data, **changes})


def test_summary_golden() -> None:
    summary = Summary()
    for decision in DECISIONS:
        summary.add(_decision(decision))
    summary.add(_decision(LEAD, id="L-2", owner=None, territory=None, assigned_by=None))
    summary.add(_decision(LEAD, id="L-3", owner="carla.diaz", assigned_by="override:big"))
    summary.add(_decision(LEAD, type="customer", transition="manual", assigned_by="kept"))
    summary.notice("rotation of territory 'us-west' restarted: its members changed")
    summary.notice("rotation of territory 'us-west' restarted: its members changed")
    assert summary.error_rows == 1
    assert summary.render() == (
        "6 rows: 5 decided, 1 in error, 2 warnings\n"
        "assigned by territory: us-west 3, (none) 1\n"
        "assigned to owner: ana.gomez 2, (unassigned) 1, carla.diaz 1\n"
        "assigned how: kept 1, override 1, territory 1, unassigned 1\n"
        "transitions: manual 1, opportunity-makes-prospect 1\n"
        "warnings: other 2\n"
        "errors: missing-field 1\n"
        "  leads.csv:3: missing-field: the row has no 'id'\n"
        "notice: rotation of territory 'us-west' restarted: its members changed"
    )


def test_summary_of_nothing() -> None:
    assert Summary().render() == "0 rows: 0 decided, 0 warnings"


def test_summary_stays_short() -> None:
    """Many owners and errors: the first few by count, then how many more."""
    summary = Summary()
    for i in range(20):
        for _ in range(i + 1):
            summary.add(_decision(LEAD, owner=f"rep{i:02d}", territory="t"))
    for i in range(7):
        summary.add(_decision(ERROR, row=10 + i))
    lines = summary.render().splitlines()
    assert lines[0] == "217 rows: 210 decided, 7 in error, 0 warnings"
    assert lines[2] == (
        "assigned to owner: rep19 20, rep18 19, rep17 18, rep16 17, rep15 16, rep14 15, "
        "rep13 14, rep12 13, (+12 more)"
    )
    assert lines[-7:] == [
        "errors: missing-field 7",
        "  leads.csv:10: missing-field: the row has no 'id'",
        "  leads.csv:11: missing-field: the row has no 'id'",
        "  leads.csv:12: missing-field: the row has no 'id'",
        "  leads.csv:13: missing-field: the row has no 'id'",
        "  leads.csv:14: missing-field: the row has no 'id'",
        "  … and 2 more",
    ]


# The summary counts warnings by code (SPEC §20): "code: message", or the criteria's
# unreadable values (SPEC §3), whose text names the field.
WARNING_CODES = [
    ("no-customer: opportunity O-1 has no customer: no lifecycle event", "no-customer"),
    ("skipped-members: territory latam: no eligible member (x inactive)", "skipped-members"),
    ("already-applied: this row of this input was applied before", "already-applied"),
    ("duplicate-of:L-1: the same email as L-1", "duplicate-of"),
    ("employees: 'n/a' is not a number", "not-a-number"),
    ("created: '03/02/2026' is not a date (YYYY-MM-DD)", "not-a-date"),
    ("something else", "other"),
    ("state: CA", "other"),  # a field name is not a code
]


@pytest.mark.parametrize(("text", "code"), WARNING_CODES, ids=[c for _, c in WARNING_CODES])
def test_warning_code(text: str, code: str) -> None:
    assert warning_code(text) == code
