"""Hostile input files (issue 14): one decision per real row, no traceback, a clear row error.

Each case is built as a user would meet it (a file in a folder, ``sfa`` run on it) or
read through ``records.read``; the properties at the end fuzz the three readers.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfa_rules.cli import main
from sfa_rules.records.csvrecords import DELIMITERS, ROW_LIMIT, CsvRecords, delimiter_of
from sfa_rules.records.readers import InputError, read


def _note(lines: int) -> str:
    return "\n".join(f"note line {i} " + "z" * 55 for i in range(lines))


def _rows(path: Path, **options: Any) -> list[tuple[int, Any, str | None]]:
    """(row, id, error code) of every row read."""
    return [
        (r.row, r.record.get("id") if r.record else None, r.error.code if r.error else None)
        for r in read([path], **options)
    ]


# -- CSV: long cells and unbalanced quotes (items 1 and 7) ---------------------------------

CSV_CASES: dict[str, tuple[str, list[tuple[int, Any, str | None]]]] = {
    # a quoted cell over csv's 128 KiB field limit, with newlines: read whole
    "cell-over-128k-with-newlines": (
        f'id,notes,country\nL1,"{_note(2000)}",US\nL2,ok,US\nL3,ok,CA\n',
        [(1, "L1", None), (2, "L2", None), (3, "L3", None)],
    ),
    # a row over the row limit (1 MiB): its own error, the next rows intact
    "row-over-the-limit": (
        f'id,notes,country\nL1,"{_note(16_000)}",US\nL2,ok,US\nL3,ok,CA\n',
        [(1, "L1", "bad-csv"), (2, "L2", None), (3, "L3", None)],
    ),
    # a quote never closed: the row is its first line, the swallowed lines are rows again
    "quote-never-closed": (
        'id,country\nL1,"US\nL2,US\nL3,CA\n',
        [(1, "L1", "bad-csv"), (2, "L2", None), (3, "L3", None)],
    ),
    "quote-never-closed-last-line": ('id,country\nL1,US\nL2,"US', [(1, "L1", None),
                                                                    (2, "L2", "bad-csv")]),
    # a stray quote "closed" by another row's stray quote followed by text
    "quote-closed-by-a-later-stray-quote": (
        'id,country\nL1,"US\nL2,US\nL3,"CA\nL4,US\n',
        [(1, "L1", "bad-csv"), (2, "L2", None), (3, "L3", "bad-csv"), (4, "L4", None)],
    ),
    # valid CSV stays as it was: a legit multi-line cell, an escaped quote, "a"b
    "valid-multiline-and-quotes": (
        'id,notes\nL1,"two\nlines"\nL2,"say ""hi"""\nL3,"a"b\nL4,5" screen\n',
        [(1, "L1", None), (2, "L2", None), (3, "L3", None), (4, "L4", None)],
    ),
    # a blank after a multi-line cell's closing quote is no stray quote; text is
    "blank-after-a-multiline-cell": (
        'id,notes,c\nL1,"two\nlines" ,x\nL2,y\n', [(1, "L1", None), (2, "L2", None)],
    ),
    "blank-then-text-after-a-stray-quote": (
        'id,notes,c\nL1,"two\nL2," x\nL3,y\n',
        [(1, "L1", "bad-csv"), (2, "L2", "bad-csv"), (3, "L3", None)],
    ),
    # a swallowed line with invalid bytes and accents is read again as it is
    "unbalanced-quote-then-accents": (
        'id,city\nL1,"Bogot\u00e1\nL2,Medell\u00edn\nL3,Lima\n',
        [(1, "L1", "bad-csv"), (2, "L2", None), (3, "L3", None)],
    ),
    "crlf-and-lone-cr-line-ends": (
        'id,notes\r\nL1,"a\r\nb"\r\nL2,x\rL3,"y"\rL4,z',
        [(1, "L1", None), (2, "L2", None), (3, "L3", None), (4, "L4", None)],
    ),
}


@pytest.mark.parametrize("name", list(CSV_CASES))
def test_csv_rows_out_equal_rows_in(name: str, tmp_path: Path) -> None:
    content, expected = CSV_CASES[name]
    path = tmp_path / "leads.csv"
    path.write_text(content, encoding="utf-8", newline="")
    assert _rows(path) == expected


def test_a_long_cell_is_read_exactly(tmp_path: Path) -> None:
    note = _note(2000)
    path = tmp_path / "leads.csv"
    path.write_text(f'id,notes\nL1,"{note}"\n', encoding="utf-8")
    (row,) = read([path])
    assert row.record == {"id": "L1", "notes": note} and row.error is None


def test_the_row_errors_say_where_and_what(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(f'id,notes\nL1,"{_note(16_000)}"\nL2,"open\nL3,x\n', encoding="utf-8")
    messages = [r.error and r.error.message for r in read([path])]
    assert messages == [
        f"the row is longer than {ROW_LIMIT:,} characters (lines 2 to 16,001): it was not read",
        (
            "unbalanced quote: the row starting on line 16,002 has a quoted field that is never "
            "closed; the row was read as that line alone, and the lines after it as rows"
        ),
        None,
    ]


def _state_ids(state: Path) -> list[str]:
    with sqlite3.connect(state) as db:
        return sorted(r[0] for r in db.execute("SELECT id FROM customers"))


@pytest.mark.parametrize(
    ("content", "decided", "in_error"),
    [
        (f'id,notes,country\nL1,"{_note(2000)}",US\nL2,ok,US\nL3,ok,CA\n', ["L1", "L2", "L3"], []),
        (f'id,notes,country\nL1,"{_note(16_000)}",US\nL2,ok,US\nL3,ok,CA\n', ["L2", "L3"], ["L1"]),
        ('id,country\nL1,"US\nL2,US\nL3,CA\n', ["L2", "L3"], ["L1"]),
    ],
    ids=["long-cell", "row-over-limit", "unbalanced-quote"],
)
def test_apply_keeps_nothing_bogus_in_the_state(
    content: str, decided: list[str], in_error: list[str], tmp_path: Path
) -> None:
    (tmp_path / "leads.csv").write_text(content, encoding="utf-8")
    state = tmp_path / "st.db"
    result = CliRunner().invoke(main, ["apply", str(tmp_path / "leads.csv"), "--state",
                                       str(state), "--format", "jsonl"])
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(decisions) == 3, result.output
    assert [d["id"] for d in decisions if d["error"]] == in_error
    assert result.exit_code == (1 if in_error else 0)
    assert _state_ids(state) == decided


@pytest.mark.slow
def test_a_50_mb_cell_is_one_row_in_error_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "leads.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write('id,notes,country\nL1,"')
        for _ in range(50_000_000 // 70):
            out.write("x" * 69 + "\n")
        out.write('",US\nL2,ok,US\nL3,ok,CA\n')
    tracemalloc.start()
    try:
        rows = _rows(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == [(1, "L1", "bad-csv"), (2, "L2", None), (3, "L3", None)]
    assert peak < 8_000_000


@pytest.mark.parametrize(
    "header",
    ['id,"country\nL1,US\nL2,US\n', f"id,{'n' * (ROW_LIMIT + 10)}\nL1,a\n"],
    ids=["unbalanced-quote", "over-the-row-limit"],
)
def test_an_unreadable_header_is_a_usage_error_before_any_row(header: str, tmp_path: Path) -> None:
    """Item 11: the second file's header cannot be read: exit 2, no row decided."""
    (tmp_path / "a.csv").write_text("id,country\nA1,US\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(header, encoding="utf-8")
    result = CliRunner().invoke(main, ["dry-run", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
                                       "--type", "lead", "--format", "jsonl"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "b.csv: the header row cannot be read:" in result.stderr
    assert "Traceback" not in result.output
    with pytest.raises(InputError):
        read([tmp_path / "b.csv"])


def _utf8_and_wide(folder: Path, suffix: str, text: str, codec: str) -> list[list[Any]]:
    """(row, record, error) of ``text`` written as UTF-8, and in ``codec`` with its byte
    order mark."""
    bom = "\ufeff" if codec in ("utf-16-le", "utf-16-be") else ""
    read_back = []
    for name, encoding, mark in (("utf8", "utf-8", ""), ("wide", codec, bom)):
        path = folder / f"{name}{suffix}"
        path.write_text(mark + text, encoding=encoding, newline="")
        read_back.append([(r.row, r.record, r.error and (r.error.code, r.error.message))
                          for r in read([path], type_override="lead")])
    return read_back


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_csv_with_a_byte_order_mark_reads_as_the_same_rows(codec: str, tmp_path: Path) -> None:
    """Excel's "Unicode" CSV is UTF-16 with a byte order mark: its rows read as the UTF-8
    file's, accents, quoted newlines and a bad-csv row included."""
    text = 'id,company,country\r\nL1,Société Générale,FR\r\nL2,"Two\nlines",US\r\nL3,x,US,extra\r\n'
    utf8, wide = _utf8_and_wide(tmp_path, ".csv", text, codec)
    assert wide == utf8
    assert utf8[0][1] == {"id": "L1", "company": "Société Générale", "country": "FR"}
    assert utf8[2][2][0] == "bad-csv"


@pytest.mark.parametrize(("header", "delimiter"), [
    ("id,company,country", ","),
    ("id;company;country", ";"),
    ("id\tcompany\tcountry", "\t"),
    ('"Name, full";id;country', ";"),  # a quoted name's comma does not count
    ("id;amount (net, EUR);country", ";"),  # the most frequent wins
    ('"id;x",company,country', ","),
    ("id", ","),  # one column: a comma
    ("a,b;c", ","),  # a tie: a comma, then a semicolon
    ("a;b\tc", ";"),
    ('"open;quote', ","),  # the rest of an unclosed quote is a name
])
def test_the_delimiter_is_the_headers(header: str, delimiter: str) -> None:
    assert delimiter_of(header + "\r\n") == delimiter


@pytest.mark.parametrize("delimiter", sorted(DELIMITERS))
def test_a_semicolon_or_tab_export_decides_as_its_comma_copy(delimiter: str, tmp_path: Path) -> None:
    """A spreadsheet in a language with a decimal comma writes semicolons, Excel's
    "Unicode text" tabs: the same decisions as the comma file, a broken row's message
    naming the file's own delimiter."""
    rows = [["id", "company", "country", "state"], ["L1", "Acme; Inc, \"US\"", "US", "CA"],
            ["L2", "Two\tlines\nhere", "CA", ""], ["L3", "x", "MX", "", "extra"],
            ["L4", '"open', "US", "NY"]]
    for name, sep in (("comma", ","), ("other", delimiter)):
        (tmp_path / name).mkdir()
        text = _csv_text(rows[:4], sep) + sep.join(rows[4]) + "\r\n"  # a stray quote
        (tmp_path / name / "leads.csv").write_text(text, encoding="utf-8", newline="")
    out = {}
    for name in ("comma", "other"):
        result = CliRunner().invoke(main, ["dry-run", str(tmp_path / name / "leads.csv"),
                                           "--format", "jsonl"])
        assert result.exit_code == 1, result.output
        out[name] = [json.loads(line) for line in result.stdout.splitlines()]
        for d in out[name]:
            d.pop("source")
    assert out["other"] == out["comma"]
    assert [(d["id"], d["error"] and d["error"]["code"]) for d in out["comma"]] == [
        ("L1", None), ("L2", None), ("L3", "bad-csv"), ("L4", "bad-csv")]
    assert out["comma"][1]["territory"] == "canada"


def test_a_tsv_file_splits_on_tabs_whatever_its_header_holds(tmp_path: Path) -> None:
    """In a .tsv the header is not asked: "Last, First" would tie a comma with the tab."""
    path = tmp_path / "leads.tsv"
    path.write_text("id\tLast, First\nL1\tDoe, Jane\nL2\tRoe; Rick\n", encoding="utf-8")
    assert [r.record for r in read([path])] == [{"id": "L1", "Last, First": "Doe, Jane"},
                                                {"id": "L2", "Last, First": "Roe; Rick"}]
    result = CliRunner().invoke(main, ["dry-run", str(path), "--format", "jsonl"])
    assert result.exit_code == 0
    assert [json.loads(line)["type"] for line in result.stdout.splitlines()] == ["lead", "lead"]


@pytest.mark.parametrize(("text", "cells", "last_line"), [
    ("sep=;\nid;a,b\nL1;x,y\n", [["id", "a,b"], ["L1", "x,y"]], 3),
    ("SEP=|\r\nid|a\r\nL1|x;y\r\n", [["id", "a"], ["L1", "x;y"]], 3),
    ("\n\nsep=,\nid,a;b;c\nL1,x;y;z\n", [["id", "a;b;c"], ["L1", "x;y;z"]], 5),
    ("sep=\t\nid\ta\nL1\t\"q\nr\"\nL2\tz\n", [["id", "a"], ["L1", "q\nr"], ["L2", "z"]], 5),
])
def test_excels_sep_line_names_the_delimiter_and_is_no_record(
        text: str, cells: list[list[str]], last_line: int) -> None:
    """The line numbers still count it (and the blank lines above it)."""
    records = list(CsvRecords(io.StringIO(text, newline=""), delimiter=None))
    assert [r[0] for r in records] == cells
    assert records[-1][2] == last_line  # the physical line the last record starts on


def test_a_stray_quote_names_the_files_delimiter() -> None:
    text = 'id;note\nL1;"a\nb"x;y\nL2;z\n'
    records = list(CsvRecords(io.StringIO(text, newline=""), delimiter=None))
    assert records[1][1] == ("unbalanced quote: the row starting on line 2 has a quoted field "
                             "that closes on line 3 followed by 'x' instead of a semicolon or "
                             "the line end")
    assert [r[0] for r in records] == [["id", "note"], ["L1", "a"], ["b\"x", "y"], ["L2", "z"]]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_a_json_lines_file_with_a_byte_order_mark_reads_as_the_same_rows(
        codec: str, tmp_path: Path) -> None:
    """Windows PowerShell writes UTF-16: its lines read as the UTF-8 file's, errors included."""
    text = ('{"id":"L1","company":"Société","country":"FR"}\r\n\n{bad\n'
            r'{"id":"\udc80","country":"US"}' "\n" '{"id":"L4","note":"a\\nb"}\n')
    utf8, wide = _utf8_and_wide(tmp_path, ".jsonl", text, codec)
    assert wide == utf8
    assert [(row, error and error[0]) for row, _, error in utf8] == [
        (1, None), (3, "bad-json"), (4, "bad-encoding"), (5, None)]


@pytest.mark.parametrize("codec", ["utf-8", "utf-16"])
def test_a_json_line_over_the_limit_is_a_row_error_read_past(
        codec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON array of a whole export on one line: one row in error, held in memory by
    pieces only, and the lines after it read."""
    import tracemalloc

    from sfa_rules.records import jsonlines

    monkeypatch.setattr(jsonlines, "JSON_LINE_LIMIT", 1000)
    big = json.dumps([{"id": f"L{i}", "country": "US"} for i in range(150_000)])
    path = tmp_path / "leads.jsonl"
    path.write_text('{"id":"L1"}\n' + big + '\n{"id":"L3"}\n' + "x" * 1000 + "\n",
                    encoding=codec)
    tracemalloc.start()
    try:
        rows = [(r.row, r.record and r.record["id"], r.error and r.error.message)
                for r in read([path], type_override="lead")]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == [
        (1, "L1", None),
        (2, None, "the line is longer than 1,000 bytes: it was not read (one JSON object per line)"),
        (3, "L3", None),
        (4, None, "the line is not valid JSON: Expecting value at column 1"),  # 1,000: read
    ]
    assert len(big) > 4_000_000 and peak < 1_000_000


def test_a_header_holding_nul_bytes_is_a_usage_error(tmp_path: Path) -> None:
    """UTF-16 without a byte order mark, or a binary file named .csv: exit 2, said why."""
    (tmp_path / "leads.csv").write_bytes("id,country\nL1,US\n".encode("utf-16-le"))
    result = CliRunner().invoke(main, ["dry-run", str(tmp_path / "leads.csv")])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"sfa: {tmp_path / 'leads.csv'}: the header row holds NUL bytes: the file "
                             "is not text in UTF-8 (or UTF-16 with a byte order mark); save it as "
                             "CSV UTF-8\n")


def test_a_long_header_within_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(f"id,{'n' * 200_000}\nL1,a\n", encoding="utf-8")
    assert _rows(path) == [(1, "L1", None)]


# -- JSON Lines: lone surrogates (item 2) -------------------------------------------------------

SURROGATE_LINES = [
    r'{"type":"lead","id":"\udc80bad","country":"US"}',
    r'{"type":"lead","id":"L9","address":{"city":"\ud800x"}}',
    r'{"type":"lead","id":"L9","tags":["ok","\uDFFF"]}',
    r'{"type":"lead","id":"L9","\udc80key":"x"}',
]


@pytest.mark.parametrize("line", SURROGATE_LINES)
@pytest.mark.parametrize("command", ["apply", "dry-run"])
def test_a_lone_surrogate_is_a_row_error(line: str, command: str, tmp_path: Path) -> None:
    path = tmp_path / "leads.jsonl"
    path.write_text(
        '{"type":"lead","id":"L1","country":"US"}\n' + line + '\n'
        r'{"type":"lead","id":"L3","name":"\ud83d\ude00 a pair is fine"}' + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    args = [command, str(path), "--out", str(out)]
    if command == "apply":
        args += ["--state", str(tmp_path / "st.db")]
    for _ in range(2):  # the re-run is fine too
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        decisions = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert [(d["row"], d["error"] and d["error"]["code"]) for d in decisions] == [
            (1, None), (2, "bad-encoding"), (3, None)
        ]
        assert "surrogate" in decisions[1]["error"]["message"]
    if command == "apply":
        assert _state_ids(tmp_path / "st.db") == ["L1", "L3"]


@pytest.mark.parametrize("line", SURROGATE_LINES)
def test_a_lone_surrogate_in_a_python_record_is_a_row_error(line: str, tmp_path: Path) -> None:
    """The same records as Python dicts (text decoded with errors="surrogateescape"):
    one row in error, the others applied and committed."""
    import sfa_rules

    rows = [{"type": "lead", "id": "L1", "country": "US"}, json.loads(line),
            {"type": "lead", "id": "L3", "name": "\U0001f600 a pair is fine"}]
    state = tmp_path / "st.db"
    with sfa_rules.load().session(state=state) as session:
        decisions = [d.to_dict() for d in session.process(rows)]
        session.commit()
    assert [(d["row"], d["error"] and d["error"]["code"]) for d in decisions] == [
        (1, None), (2, "bad-encoding"), (3, None)
    ]
    assert decisions[1]["type"] == "lead" and "surrogate" in decisions[1]["error"]["message"]
    assert _state_ids(state) == ["L1", "L3"]


# -- Parquet: values Python cannot hold (item 4) ------------------------------------------------


def _parquet_cases() -> dict[str, tuple[Callable[[Any, int], Any], Any, str | None]]:
    """name -> (column of n values with one odd value at row 4101, its value, error)."""
    pa = pytest.importorskip("pyarrow")

    def ns(_: Any, n: int) -> Any:
        values = [i * 1_000_000_000 for i in range(n)]
        values[4100] += 7
        return pa.array(values, pa.timestamp("ns"))

    def ns_tz(_: Any, n: int) -> Any:
        values = [i * 1_000_000_000 for i in range(n)]
        values[4100] += 7
        return pa.array(values, pa.timestamp("ns", tz="UTC"))

    def far_date(_: Any, n: int) -> Any:
        values = [20_000] * n
        values[4100] = 2_932_907  # 10000-01-11
        return pa.array(values, pa.date32())

    def time_ns(_: Any, n: int) -> Any:
        return pa.array([1 if i == 4100 else 0 for i in range(n)], pa.time64("ns"))

    return {
        "timestamp-ns": (ns, "1970-01-01T01:08:20.000000007", None),
        "timestamp-ns-utc": (ns_tz, "1970-01-01T01:08:20.000000007+00:00", None),
        "date32-past-9999": (far_date, None, "bad-date"),
        "time64-ns": (time_ns, "00:00:00.000000001", None),
    }


@pytest.mark.parametrize("name", ["timestamp-ns", "timestamp-ns-utc", "date32-past-9999",
                                  "time64-ns"])
def test_parquet_odd_values_lose_no_row(name: str, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    column, value, code = _parquet_cases()[name]
    n = 5000
    path = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": [f"L{i}" for i in range(n)], "country": ["US"] * n,
                             "when": column(pa, n)}), path)
    rows = list(read([path]))
    assert [r.row for r in rows] == list(range(1, n + 1))
    odd = rows[4100]
    assert [r.row for r in rows if r.error] == ([4101] if code else [])
    if code:
        assert odd.error is not None and (odd.error.code, odd.error.field) == (code, "when")
        assert odd.record is not None and odd.record["id"] == "L4100"
    else:
        assert odd.record is not None and odd.record["when"] == value
    result = CliRunner().invoke(main, ["dry-run", str(path), "--format", "jsonl"])
    assert len(result.stdout.splitlines()) == n, result.output
    assert result.exit_code == (1 if code else 0)


def test_a_parquet_timestamp_at_midnight_is_a_day(tmp_path: Path) -> None:
    """pandas writes a column of dates as timestamps at midnight: such an expected_close
    is that day (SPEC §7's YYYY-MM-DD); one with a time of day is not a date."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime as dt

    utc = dt.UTC
    closes = [dt.datetime(2027, 3, 31), dt.datetime(2027, 4, 1, tzinfo=utc),
              dt.datetime(2027, 4, 1, 9, 30)]
    for unit, tz in (("us", None), ("ms", "UTC")):
        (tmp_path / unit).mkdir()
        path = tmp_path / unit / "opportunities.parquet"
        column = pa.array([c.replace(tzinfo=None) if tz is None else c.replace(tzinfo=utc)
                           for c in closes], pa.timestamp(unit, tz=tz))
        pq.write_table(pa.table({"id": ["O-1", "O-2", "O-3"], "customer": ["C-1"] * 3,
                                 "status": ["Proposal"] * 3, "amount": ["10"] * 3,
                                 "expected_close": column}), path)
        customers = tmp_path / "customers.csv"
        customers.write_text("id,country\nC-1,US\n", encoding="utf-8")
        result = CliRunner().invoke(main, ["dry-run", str(customers), str(path),
                                           "--format", "jsonl"])
        errors = [json.loads(line)["error"] for line in result.stdout.splitlines()]
        assert [e and e["code"] for e in errors] == [None, None, None, "bad-date"]
        assert [r.record and r.record["expected_close"] for r in read([path])][:2] == [
            "2027-03-31", "2027-04-01"]


@pytest.mark.parametrize("damaged", [0, 1, 2])
def test_a_damaged_parquet_row_group_is_an_error_on_its_rows_only(
        damaged: int, tmp_path: Path) -> None:
    """A row group whose pages cannot be read: each of its rows is ``bad-parquet``, the
    rows of the other groups are decided, one decision per row, no traceback."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    n, group = 1500, 500
    path = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": [f"P-{i}" for i in range(n)], "country": ["US"] * n,
                             "state": ["CA"] * n}),
                   path, row_group_size=group, use_dictionary=False)
    page = pq.ParquetFile(path).metadata.row_group(damaged).column(0)
    raw = bytearray(path.read_bytes())
    start = page.data_page_offset + 20
    raw[start:page.data_page_offset + page.total_compressed_size - 2] = b"\xab" * (
        page.total_compressed_size - 22)
    path.write_bytes(bytes(raw))
    result = CliRunner().invoke(main, ["dry-run", str(path), "--format", "jsonl"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["row"] for d in decisions] == list(range(1, n + 1))
    bad = range(damaged * group + 1, (damaged + 1) * group + 1)
    assert [d["row"] for d in decisions if d["error"]] == list(bad)
    assert {d["error"]["code"] for d in decisions if d["error"]} == {"bad-parquet"}
    assert all(d["owner"] for d in decisions if d["row"] not in bad)


# -- properties: the readers never raise, and rows out == rows in -------------------------------

_cell = st.text(alphabet=st.sampled_from('ab,;\t"\n\r xé'), max_size=8)
_plain_cell = st.text(alphabet=st.sampled_from("abcxyz 0123"), min_size=1, max_size=6)


def _csv_text(records: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n", delimiter=delimiter).writerows(records)
    return buffer.getvalue()


def _check_csv_round_trip(records: list[list[str]], delimiter: str, folder: Path) -> None:
    """Valid CSV (any quotes, delimiters, CR, LF in cells), split on commas, semicolons or
    tabs: every record read back as written."""
    path = folder / "leads.csv"
    path.write_bytes(_csv_text([["id", "a", "b"], *records], delimiter).encode())
    rows = list(read([path]))
    assert len(rows) == len(records)
    for row, cells in zip(rows, records):
        expected = {k: v for k, v in zip(("id", "a", "b"), cells) if v.strip()}
        assert (row.error, row.record) == (None, expected)


def _check_stray_quotes(lines: list[list[str]], strays: list[int], delimiter: str,
                        folder: Path) -> None:
    """Simple rows with stray quotes at the start of cells: still one row per line, the
    lines with a quote in error or read, every other line read exactly."""
    text_lines = []
    for i, cells in enumerate(lines):
        cells = list(cells)
        if i in strays:  # (`" ` at a line end closes a multi-line cell: valid CSV)
            cells[-1] = '"' + (cells[-1].lstrip() or "x")
        text_lines.append(delimiter.join(cells))
    path = folder / "leads.csv"
    header = delimiter.join(["id", "a", "b"])
    path.write_text(header + "\n" + "\n".join(text_lines) + "\n", encoding="utf-8")
    rows = list(read([path]))
    assert [r.row for r in rows] == list(range(1, len(lines) + 1))
    for i, (row, cells) in enumerate(zip(rows, lines)):
        if i not in strays:
            assert row.error is None
            assert row.record == {k: v for k, v in zip(("id", "a", "b"), cells) if v.strip()}


def _check_any_bytes(data: bytes, folder: Path) -> None:
    """Anything at all: read fails only as InputError (its header), else yields rows
    numbered upwards, each a record or an error."""
    for name in ("leads.csv", "leads.jsonl"):
        path = folder / name
        path.write_bytes(data)
        try:
            rows = list(read([path]))
        except InputError:
            assert name.endswith(".csv")
            continue
        numbers = [r.row for r in rows]
        assert numbers == sorted(set(numbers))
        for r in rows:
            assert r.record is not None or r.error is not None
            if r.record is not None:
                json.dumps(r.record, ensure_ascii=False).encode("utf-8")  # no lone surrogate


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6,
)
_jsonl_line = st.one_of(
    st.dictionaries(st.text(max_size=5), _json_value, max_size=4).map(json.dumps),
    st.sampled_from([r'{"id":"\udc80"}', r'{"\ud800":1}', "[1,2]", "{bad", '"x"', "{}"]),
    st.binary(max_size=12).map(lambda b: b.decode("latin-1")),
)


def _check_jsonl(lines: list[str], folder: Path) -> None:
    """One row per non-blank line, whatever the line holds."""
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    path = folder / "leads.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    rows = list(read([path]))
    blank = [not line.encode("utf-8", "surrogatepass").strip() for line in lines]  # ASCII blanks
    assert [r.row for r in rows] == [i for i, b in enumerate(blank, 1) if not b]


def _check_parquet(seconds: list[int], nanos: list[int], days: list[int], folder: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    n = min(len(seconds), len(nanos), len(days))
    table = pa.table({
        "id": [f"L{i}" for i in range(n)],
        "ts": pa.array([s * 1_000_000_000 + ns for s, ns in zip(seconds, nanos)][:n],
                       pa.timestamp("ns")),
        "day": pa.array(days[:n], pa.date32()),
    })
    path = folder / "leads.parquet"
    pq.write_table(table, path, row_group_size=7)
    rows = list(read([path]))
    assert [r.row for r in rows] == list(range(1, n + 1))
    for r in rows:
        assert r.record is not None and r.record["id"] == f"L{r.row - 1}"
        assert r.error is None or r.error.code == "bad-date"


def _check_same_as_csv(text: str, delimiter: str, folder: Path) -> None:
    """Whenever no row is flagged, the records are exactly csv.reader's (nothing of
    csv's reading changes but the rows it would lose), whatever the delimiter."""
    del folder
    ours = list(CsvRecords(io.StringIO(text, newline=""), delimiter=delimiter))
    if any(problem for _, problem, _, _ in ours):
        return
    theirs = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    assert [cells for cells, _, _, _ in ours] == list(theirs)


_CSV_RECORDS = st.lists(st.lists(_cell, min_size=3, max_size=3), max_size=12)
_LINES = st.lists(st.lists(_plain_cell, min_size=3, max_size=3), min_size=1, max_size=12)
_STRAYS = st.lists(st.integers(min_value=0, max_value=11), max_size=3)
_DELIMITER = st.sampled_from(sorted(DELIMITERS))
_SECONDS = st.lists(st.integers(min_value=-9_000_000_000, max_value=9_000_000_000), max_size=30)
_NANOS = st.lists(st.integers(min_value=0, max_value=999_999_999), max_size=30)
_DAYS = st.lists(st.integers(min_value=-2**31, max_value=2**31 - 1), max_size=30)
_QUICK = settings(max_examples=40, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
_LONG = settings(max_examples=400, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def _fuzz_all(
    check: Callable[..., None], strategies: dict[str, Any]
) -> tuple[Callable[..., None], Callable[..., None]]:
    """The same property at two sizes: quick (every run) and long (marked slow)."""

    def run(tmp_path: Path, **values: Any) -> None:
        check(**values, folder=tmp_path)

    quick = _QUICK(given(**strategies)(run))
    long = pytest.mark.slow(_LONG(given(**strategies)(run)))
    return quick, long


test_fuzz_csv_round_trip, test_fuzz_csv_round_trip_long = _fuzz_all(
    _check_csv_round_trip, {"records": _CSV_RECORDS, "delimiter": _DELIMITER})
test_fuzz_csv_stray_quotes, test_fuzz_csv_stray_quotes_long = _fuzz_all(
    _check_stray_quotes, {"lines": _LINES, "strays": _STRAYS, "delimiter": _DELIMITER})
test_fuzz_same_as_csv, test_fuzz_same_as_csv_long = _fuzz_all(
    _check_same_as_csv, {"text": st.text(alphabet=st.sampled_from('a,;\t"\n\r x\x00é'),
                                         max_size=60), "delimiter": _DELIMITER})
test_fuzz_any_bytes, test_fuzz_any_bytes_long = _fuzz_all(
    _check_any_bytes, {"data": st.binary(max_size=200)})
test_fuzz_jsonl, test_fuzz_jsonl_long = _fuzz_all(
    _check_jsonl, {"lines": st.lists(_jsonl_line, max_size=10)})
test_fuzz_parquet, test_fuzz_parquet_long = _fuzz_all(
    _check_parquet, {"seconds": _SECONDS, "nanos": _NANOS, "days": _DAYS})
