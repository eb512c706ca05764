"""Records in (SPEC §8): CSV, JSON Lines and Parquet rows, their record type, bad rows."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfa_rules.records.readers import InputError, InputRow, normalise_type, open_inputs, read

CASES = sorted((Path(__file__).parent / "cases" / "records").glob("*.yaml"))


def as_dicts(rows: list[InputRow]) -> list[dict[str, Any]]:
    """Rows as the case files write them (the error as its dict; warnings when any)."""
    out = []
    for row in rows:
        error = row.error.to_dict() if row.error else None
        item = {**row._asdict(), "error": error}
        if not item["warnings"]:
            del item["warnings"]
        out.append(item)
    return out


def write_case_files(case: dict[str, Any], folder: Path) -> list[str]:
    names = []
    for spec in case["files"]:
        data = spec["content"].encode(spec.get("encoding", "utf-8"))
        if spec.get("bom"):
            data = b"\xef\xbb\xbf" + data
        (folder / spec["name"]).write_bytes(data)
        names.append(spec["name"])
    return names


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_case(case_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = yaml.safe_load(case_file.read_text(encoding="utf-8"))
    names = write_case_files(case, tmp_path)
    monkeypatch.chdir(tmp_path)  # `source` is the path as given: here the bare name
    rows = list(read(names, type_override=case.get("type_override")))
    expected = [{"error": None, **item} for item in case["expected"]]
    assert as_dicts(rows) == expected


# -- record type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "column", "override", "expected"),
    [
        # the type column first
        ("leads.csv", "opportunity", None, "opportunity"),
        ("leads.csv", "Opportunities", "invoice", "opportunity"),
        # then --type
        ("leads.csv", None, "invoices", "invoice"),
        ("export.csv", "", "Cash Sale", "cash_sale"),
        # then the file name up to its first dot, singular or plural, any case
        ("leads.csv", None, None, "lead"),
        ("lead.csv", None, None, "lead"),
        ("Sales_Orders.2026-11.csv", None, None, "sales_order"),
        ("status_changes.csv", None, None, "status_change"),
        ("prospect.jsonl", None, None, "prospect"),
        ("data/cash_sales.ndjson", None, None, "cash_sale"),
        # else no type
        ("export.csv", None, None, "unknown-type"),
        ("leads-2026.csv", None, None, "unknown-type"),
        ("export.csv", "widget", "lead", "unknown-type"),
    ],
)
def test_type_resolution(
    file_name: str, column: str | None, override: str | None, expected: str, tmp_path: Path
) -> None:
    path = tmp_path / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        header, cells = ("id,type", f"X-1,{column}") if column is not None else ("id", "X-1")
        path.write_text(f"{header}\n{cells}\n", encoding="utf-8")
    else:
        record = {"id": "X-1"} if column is None else {"id": "X-1", "type": column}
        path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (row,) = read([path], type_override=override)
    assert (row.error.code if row.error else row.type) == expected


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("lead", "lead"),
        (" LEADS ", "lead"),
        ("opportunities", "opportunity"),
        ("sales-order", "sales_order"),
        ("Sales Orders", "sales_order"),
        ("status_changes", "status_change"),
        ("leeds", None),
        ("", None),
    ],
)
def test_normalise_type(spelling: str, expected: str | None) -> None:
    assert normalise_type(spelling) == expected


def test_type_column_found_through_aliases(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id,Record Type\nX-1,Customer\n", encoding="utf-8")
    (plain,) = read([path])
    (aliased,) = read([path], aliases={"type": ["record type"], "country": ["Land"]})
    assert plain.error is not None and plain.error.code == "unknown-type"
    assert (aliased.type, aliased.error) == ("customer", None)
    assert aliased.record == {"id": "X-1", "Record Type": "Customer"}  # keys stay raw


def test_unknown_type_override_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("id\nL-1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown record type 'leed' \(did you mean 'lead'\?\)"):
        read([path], type_override="leed")


# -- files checked up front -------------------------------------------------------------


def test_missing_file_fails_before_any_row(tmp_path: Path) -> None:
    good = tmp_path / "leads.csv"
    good.write_text("id\nL-1\n", encoding="utf-8")
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError) as info:
        read([good, missing])  # raised by the call itself: no row was handed out
    assert info.value.problems == [f"{missing}: cannot read: no such file"]


def test_a_file_named_twice_fails_before_any_row(tmp_path: Path) -> None:
    """Its rows would be applied twice in one run (a lost opportunity reopened and lost
    again), or counted twice in a forecast."""
    leads = tmp_path / "leads.csv"
    leads.write_text("id\nL-1\n", encoding="utf-8")
    again, linked = tmp_path / "." / "leads.csv", tmp_path / "link.csv"
    linked.symlink_to(leads)
    with pytest.raises(InputError) as info:
        read([leads, again, linked])
    assert info.value.problems == [
        f"{again}: the same file as {leads}, named before: name each file once",
        f"{linked}: the same file as {leads}, named before: name each file once"]
    name = str(leads)  # one string object twice, as a pipeline may pass it
    with pytest.raises(InputError, match="the same file as"):
        read([name, name])


@pytest.mark.parametrize(("name", "hint"), [
    ("leads.json", "a .json file of one JSON object per line is JSON Lines: name it .jsonl"),
    ("leads.TXT", 'a .txt file Excel saved as "Unicode Text" is tab-separated: name it .tsv'),
])
def test_a_near_miss_format_is_told_its_name(name: str, hint: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text('{"id": "L1"}\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        open_inputs([tmp_path / name])
    suffix = name.partition(".")[2]
    assert info.value.problems == [
        f"{tmp_path / name}: unknown file format '.{suffix}' (expected .csv, .tsv, .jsonl, "
        f".ndjson, .parquet); {hint}"]


def test_every_unusable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError) as info:
        open_inputs(["a.csv", tmp_path / "notes.md", tmp_path / "dir.csv"])
    known = ".csv, .tsv, .jsonl, .ndjson, .parquet"
    assert info.value.problems == [
        "a.csv: cannot read: no such file",
        f"{tmp_path / 'notes.md'}: unknown file format '.md' (expected {known})",
        f"{tmp_path / 'dir.csv'}: is a directory, not a file",
    ]
    if _has_pyarrow():
        with pytest.raises(InputError, match="broken.parquet: not a readable Parquet file"):
            open_inputs([tmp_path / "broken.parquet"])


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads all")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("id\nL-1\n", encoding="utf-8")
    path.chmod(0)
    with pytest.raises(InputError, match="leads.csv: cannot read: Permission denied"):
        open_inputs([path])


def test_parquet_without_pyarrow_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "leads.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InputError) as info:
        open_inputs([path])
    assert info.value.problems == [
        f"{path}: reading Parquet needs pyarrow: pip install 'sfa-rules[parquet]'"
    ]


def test_open_inputs_reports_sizes_and_formats(tmp_path: Path) -> None:
    (tmp_path / "a.CSV").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "b.ndjson").write_text("{}\n", encoding="utf-8")
    files = open_inputs([tmp_path / "a.CSV", str(tmp_path / "b.ndjson")])
    assert [(f.format, f.size) for f in files] == [("csv", 5), ("jsonl", 3)]
    assert files[1].source == str(tmp_path / "b.ndjson")


def test_files_are_read_in_the_order_given(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text("id\nL-1\nL-2\n", encoding="utf-8")
    (tmp_path / "customers.jsonl").write_text('{"id": "C-1"}\n', encoding="utf-8")
    rows = read([tmp_path / "customers.jsonl", tmp_path / "leads.csv"])
    assert [(r.type, r.row, r.record) for r in rows] == [
        ("customer", 1, {"id": "C-1"}),
        ("lead", 1, {"id": "L-1"}),
        ("lead", 2, {"id": "L-2"}),
    ]


# -- Parquet ------------------------------------------------------------------------------


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def test_parquet_round_trip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime as dt
    from decimal import Decimal

    table = pa.table(
        {
            "id": ["O-1", "O-2", "O-3"],
            "Type": ["opportunity", None, "Estimate"],
            "customer": ["C-1", "C-2", " "],
            "amount": pa.array([Decimal("1200.50"), None, Decimal("7.00")], pa.decimal128(9, 2)),
            "employees": [250, 80, None],
            "expected_close": [dt.date(2027, 1, 31), None, dt.date(2027, 3, 1)],
            "address": [{"country": "US", "zip": "01234"}, None, {"country": "PE", "zip": None}],
        }
    )
    path = tmp_path / "deals.parquet"
    pq.write_table(table, path, row_group_size=2)
    rows = list(read([path], type_override="opportunity"))
    assert [(r.source, r.row, r.type, r.error) for r in rows] == [
        (str(path), 1, "opportunity", None),
        (str(path), 2, "opportunity", None),
        (str(path), 3, "estimate", None),
    ]
    assert [r.record for r in rows] == [
        {
            "id": "O-1",
            "Type": "opportunity",
            "customer": "C-1",
            "amount": "1200.50",
            "employees": 250,
            "expected_close": "2027-01-31",
            "address": {"country": "US", "zip": "01234"},
        },
        {"id": "O-2", "customer": "C-2", "employees": 80},
        {
            "id": "O-3",
            "Type": "Estimate",
            "amount": "7.00",
            "expected_close": "2027-03-01",
            "address": {"country": "PE", "zip": None},
        },
    ]


# -- properties ---------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
_records = st.lists(st.tuples(_text, _text, _text), min_size=1, max_size=20)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=_records, bad_at=st.integers(min_value=0, max_value=19), bom=st.booleans())
def test_csv_reads_back_what_csv_writes(
    records: list[tuple[str, str, str]], bad_at: int, bom: bool, tmp_path: Path
) -> None:
    """Any values (quotes, commas, newlines, any script) read back as written, one row
    per record; a record with an invalid byte errors alone, at its own row number."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", "a", "b"])
    bad_at %= len(records)
    chunks = [b"\xef\xbb\xbf" if bom else b"", buffer.getvalue().encode()]
    for i, row in enumerate(records):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow([f"X-{i}", *row[1:]])
        line = buffer.getvalue().encode()
        if i == bad_at:
            line = line.replace(b"X-", b"X-\xff", 1)  # an invalid byte in the id
        chunks.append(line)
    path = tmp_path / "leads.csv"
    path.write_bytes(b"".join(chunks))

    rows = list(read([path]))

    assert [r.row for r in rows] == list(range(1, len(records) + 1))
    for i, (row, values) in enumerate(zip(rows, records)):
        if i == bad_at:
            assert row.error is not None and row.error.code == "bad-encoding"
            assert row.error.field == "id"
            assert row.record is not None and row.record["id"] == f"X-\ufffd{i}"
            continue
        expected = {"id": f"X-{i}", "a": values[1], "b": values[2]}
        assert row.error is None
        assert row.record == {k: v for k, v in expected.items() if v.strip()}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(
        st.dictionaries(_text.filter(lambda k: k.strip().lower() != "type"), _text, max_size=4),
        max_size=10,
    ),
    blank_every=st.integers(min_value=1, max_value=4),
)
def test_jsonl_rows_are_line_numbers(
    records: list[dict[str, str]], blank_every: int, tmp_path: Path
) -> None:
    lines: list[str] = []
    expected_rows = []
    for record in records:
        if len(lines) % blank_every == 0:
            lines.append("  ")
        lines.append(json.dumps(record, ensure_ascii=False))
        expected_rows.append(len(lines))
    path = tmp_path / "leads.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(read([path]))
    assert [(r.row, r.record, r.type) for r in rows] == [
        (n, rec, "lead") for n, rec in zip(expected_rows, records)
    ]


# -- streaming -------------------------------------------------------------------------------

STREAM_ROWS = 200_000


def _peak_while_reading(path: Path) -> tuple[int, int]:
    """Rows read and the peak of memory allocated while reading them."""
    tracemalloc.start()
    try:
        count = sum(1 for _ in read([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_reading_streams(fmt: str, tmp_path: Path) -> None:
    """Memory stays flat however long the file: a 200,000-row file (5 to 10 MB on disk,
    over 100 MB as dicts) is read within a few MB."""
    path = tmp_path / f"leads.{fmt}"
    if fmt == "parquet":
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        ids = [f"L-{i}" for i in range(STREAM_ROWS)]
        table = pa.table({"id": ids, "country": ["US"] * STREAM_ROWS, "zip": ids})
        pq.write_table(table, path)
    else:
        with path.open("w", encoding="utf-8") as out:
            if fmt == "csv":
                out.write("id,company,zip\n")
                line = 'L-{0},"Company {0}, Inc.",9{0:05d}\n'
            else:
                line = '{{"id": "L-{0}", "company": "Company {0}", "zip": "9{0:05d}"}}\n'
            out.writelines(line.format(i) for i in range(STREAM_ROWS))
    count, peak = _peak_while_reading(path)
    assert count == STREAM_ROWS
    assert peak < 4_000_000, f"{peak:,} bytes traced while reading {path.stat().st_size:,}"


def test_long_field_is_read_whole(tmp_path: Path) -> None:
    """A cell over csv's own 128 KiB limit, within the row limit, is read as it is."""
    path = tmp_path / "leads.csv"
    path.write_text(f"id,notes\nL-1,a\nL-2,{'x' * 200_000}\nL-3,b\n", encoding="utf-8")
    rows = list(read([path]))
    assert [(r.row, r.record, r.error and r.error.code) for r in rows] == [
        (1, {"id": "L-1", "notes": "a"}, None),
        (2, {"id": "L-2", "notes": "x" * 200_000}, None),
        (3, {"id": "L-3", "notes": "b"}, None),
    ]


def test_a_line_nested_too_deeply_is_a_row_error(tmp_path: Path) -> None:
    """json.loads gives up with RecursionError, not ValueError: still one bad row."""
    path = tmp_path / "leads.jsonl"
    deep = '{"id": "L-1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text(f'{deep}\n{{"id": "L-2"}}\n', encoding="utf-8")
    rows = list(read([path]))
    assert [(r.row, r.record, r.error and r.error.code) for r in rows] == [
        (1, None, "bad-json"),
        (2, {"id": "L-2"}, None),
    ]


@pytest.mark.parametrize(("name", "override", "expected"), [
    ("leads.jsonl", None, "lead"),  # the file name's type
    ("export.jsonl", "customer", "customer"),  # --type's
    ("export.jsonl", None, None),  # none to give
])
def test_a_line_not_read_has_the_type_a_row_without_one_gets(
        tmp_path: Path, name: str, override: str | None, expected: str | None) -> None:
    """As a CSV row that cannot be read has: the decision shows what kind of row it was."""
    path = tmp_path / name
    path.write_text('not json\n{"id": "L-2"}\n', encoding="utf-8")
    first = next(iter(read([path], type_override=override)))
    assert (first.row, first.type, first.record, first.error and first.error.code) == (
        1, expected, None, "bad-json")


def test_unreadable_header_is_a_usage_error_before_any_row(tmp_path: Path) -> None:
    """A header over the row limit: the file cannot be read, found before any row."""
    path = tmp_path / "leads.csv"
    path.write_text(f"id,{'n' * 1_100_000}\nL-1,a\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"leads.csv: the header row cannot be read: the row is "
                       r"longer than 1,048,576 characters \(lines 1 to 1\)"):
        read([path])


def test_a_header_that_is_not_utf8_is_refused_before_any_row(tmp_path: Path) -> None:
    """Its column would be read under a name nobody wrote (``Pa\ufffds``): an import's
    ``country: País`` would miss it and every row be routed without it."""
    path = tmp_path / "leads.csv"
    path.write_bytes(b"id,Pa\xeds\nL-1,PE\n")
    with pytest.raises(InputError) as caught:
        read([path])
    assert caught.value.problems == [
        f"{path}: the header row is not UTF-8: column b'Pa\\xeds' holds bytes that are not; "
        "save the file as CSV UTF-8"]


def test_parquet_binary_values(tmp_path: Path) -> None:
    """Binary columns read as UTF-8 text; a value that is not UTF-8 is `bad-encoding`."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": [b"L-1", b"L-\xff2", b"L-3"]}), path)
    rows = list(read([path]))
    assert [(r.row, r.record, r.error and r.error.code) for r in rows] == [
        (1, {"id": "L-1"}, None),
        (2, None, "bad-encoding"),
        (3, {"id": "L-3"}, None),
    ]
