"""Decisions out: JSON Lines, CSV and table writers, the atomic output file (SPEC §8, §10).

Writers take decisions (``Decision``, or plain dicts in SPEC §8's shape) and write
them to a text stream, one ``write`` per row; ``finish`` writes what a writer
still holds (the table buffers its first rows to size its columns) and leaves the
stream open. The run summary for stderr lives in ``summary``.

Choices the SPEC leaves open, written down here:

- JSON Lines: compact separators (``{"source":"leads.csv","row":2,...}``), UTF-8 text
  kept as is (``ensure_ascii=False``), keys in the order of the dict given
  (``Decision.to_dict()`` already follows SPEC §8).
- CSV: fixed columns (``CSV_COLUMNS``) whatever the row's type, so that rows of every
  type line up; null is an empty cell, ``warnings`` are joined with ``"; "``, ``error``
  is split into ``error_code`` / ``error_message`` / ``error_field``; with ``explain``
  a last ``trace`` column holds the trace as JSON. Lines end with CRLF (RFC 4180).
- CSV cells are neutralised for spreadsheets: a text value starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return (``=cmd|' /C calc'!A0``, ``+1+1``, an
  owner named ``-2+3``) is written with a leading ``'``, so that Excel, LibreOffice or
  Google Sheets show it as text instead of running it as a formula (OWASP's advice on
  CSV injection). Only text is touched: ``row`` and ``probability`` are numbers and
  stay numbers, so a negative number is never changed; a text id like ``-5`` is
  (``'-5``), since a spreadsheet cannot tell it from a formula. ``raw=True``
  (``--csv-raw``) writes every value as it is, for programs rather than spreadsheets.
- Table: for a person, not a parser: a subset of the columns, aligned from the widths
  of the first ``TABLE_SAMPLE_ROWS`` rows (so memory stays flat), long values cut with
  ``…``, null shown as ``-``, probabilities as ``75%``, errors as ``code: message``,
  warnings as their texts joined with ``"; "`` (``-`` when none).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

from sfa_rules.engine.decision import Decision
from sfa_rules.report.output import OutputError, open_output
from sfa_rules.report.summary import Summary

__all__ = [
    "CSV_COLUMNS",
    "TABLE_COLUMNS",
    "WRITERS",
    "CsvWriter",
    "DecisionWriter",
    "JsonlWriter",
    "OutputError",
    "Summary",
    "TableWriter",
    "make_writer",
    "neutralise",
    "open_output",
]

# SPEC §8's keys in its order, the error split in three, for every row type.
CSV_COLUMNS: tuple[str, ...] = (
    "source",
    "row",
    "type",
    "id",
    "customer",
    "customer_status",
    "owner",
    "territory",
    "assigned_by",
    "status",
    "stage",
    "probability",
    "forecast",
    "previous_status",
    "transition",
    "event",
    "warnings",
    "error_code",
    "error_message",
    "error_field",
    "account",  # SPEC §19, last so that the columns before keep their places
    "merged_from",
    "alert",  # SPEC §18: follow_up rows
)
TABLE_COLUMNS: tuple[str, ...] = (
    "row",
    "type",
    "id",
    "owner",
    "territory",
    "assigned_by",
    "status",
    "probability",
    "warnings",
    "error",
)
TABLE_SAMPLE_ROWS = 200  # rows buffered to size the table's columns
TABLE_MAX_WIDTH = 32  # a column's widest; the error and warnings columns get twice that
_WIDE = frozenset({"error", "warnings"})
_RIGHT_ALIGNED = frozenset({"row", "probability"})

# Built once: json.dumps with options builds a new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


Row = Decision | Mapping[str, Any]  # what writers take: a decision, or SPEC §8's dict


class DecisionWriter(Protocol):
    """What every writer offers: one ``write`` per decision, then ``finish``."""

    def write(self, decision: Row) -> None:
        """Write one decision."""

    def finish(self) -> None:
        """Write anything still held back; the stream stays open."""


class JsonlWriter:
    """One compact JSON object per line, keys in the dict's order."""

    def __init__(self, stream: TextIO, *, explain: bool = False) -> None:
        self._write = stream.write
        del explain  # the trace is in the dict already when there is one

    def write(self, decision: Row) -> None:
        """Write one decision as one line."""
        if isinstance(decision, Decision):
            self._write(decision.to_json() + "\n")
        else:
            self._write(_encode(decision) + "\n")

    def finish(self) -> None:
        """Nothing is held back."""


# what a spreadsheet reads as the start of a formula (or hides before one)
FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(value: Any) -> Any:
    """``value`` with a ``'`` in front when it is text a spreadsheet would run."""
    if value.__class__ is str and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


class CsvWriter:
    """Fixed columns (``CSV_COLUMNS``, plus ``trace`` with explain); header first.

    Text that a spreadsheet would take for a formula is neutralised unless ``raw``."""

    def __init__(self, stream: TextIO, *, explain: bool = False, raw: bool = False) -> None:
        self._explain = explain
        self._raw = raw
        # RFC 4180's CRLF: with it csv also quotes a lone CR in a value (Python 3.11
        # quotes only the characters of the line terminator), which would end the row
        self._writer = csv.writer(stream, lineterminator="\r\n")
        self._writer.writerow((*CSV_COLUMNS, "trace") if explain else CSV_COLUMNS)

    def write(self, decision: Row) -> None:
        """Write one decision as one CSV row."""
        get = _as_dict(decision).get
        error = get("error") or {}
        cells = [
            get("source"),
            get("row"),
            get("type"),
            get("id"),
            get("customer"),
            get("customer_status"),
            get("owner"),
            get("territory"),
            get("assigned_by"),
            get("status"),
            get("stage"),
            get("probability"),
            get("forecast"),
            get("previous_status"),
            get("transition"),
            get("event"),
            "; ".join(_warning_text(w) for w in get("warnings") or ()),
            error.get("code"),
            error.get("message"),
            error.get("field"),
            get("account"),
            get("merged_from"),
            get("alert"),
        ]
        if self._explain:
            trace = get("trace")
            cells.append(None if trace is None else _encode(trace))
        # csv writes None as an empty cell
        self._writer.writerow(cells if self._raw else [neutralise(c) for c in cells])

    def finish(self) -> None:
        """Nothing is held back."""


class TableWriter:
    """Aligned columns for a person (``TABLE_COLUMNS``, or ``columns``)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        explain: bool = False,
        sample_rows: int = TABLE_SAMPLE_ROWS,
        max_width: int = TABLE_MAX_WIDTH,
        columns: tuple[str, ...] = TABLE_COLUMNS,
    ) -> None:
        del explain  # a trace does not fit a table; --format jsonl shows it
        self._stream = stream
        self._columns = columns
        self._sample_rows = sample_rows
        self._max = {c: max_width * 2 if c in _WIDE else max_width for c in columns}
        self._pending: list[list[str]] | None = []
        self._widths: list[int] = []

    def write(self, decision: Row) -> None:
        """Buffer the first rows (to size the columns), then write each row as it comes."""
        cells = _table_cells(_as_dict(decision), self._columns)
        if self._pending is None:
            self._line(cells)
            return
        self._pending.append(cells)
        if len(self._pending) >= self._sample_rows:
            self._flush_sample()

    def finish(self) -> None:
        """Write the buffered rows (and the header, even with no row at all)."""
        if self._pending is not None:
            self._flush_sample()

    def _flush_sample(self) -> None:
        pending = self._pending or []
        self._pending = None
        self._widths = [
            min(self._max[c], max([len(c)] + [len(r[i]) for r in pending]))
            for i, c in enumerate(self._columns)
        ]
        self._line(list(self._columns))
        for cells in pending:
            self._line(cells)

    def _line(self, cells: list[str]) -> None:
        parts = []
        for name, width, text in zip(self._columns, self._widths, cells):
            if len(text) > width:
                text = text[: width - 1] + "…"
            parts.append(text.rjust(width) if name in _RIGHT_ALIGNED else text.ljust(width))
        self._stream.write("  ".join(parts).rstrip() + "\n")


def _as_dict(decision: Row) -> Mapping[str, Any]:
    return decision.to_dict() if isinstance(decision, Decision) else decision


def _table_cells(decision: Mapping[str, Any], columns: tuple[str, ...]) -> list[str]:
    cells = []
    for name in columns:
        value = decision.get(name)
        if value is None:
            cells.append("-")
        elif name == "probability":
            cells.append(f"{value}%")
        elif name == "error":
            cells.append(f"{value.get('code')}: {value.get('message')}")
        elif name == "warnings":
            text = "; ".join(" ".join(_warning_text(w).split()) for w in value)
            cells.append(text or "-")
        else:
            cells.append(" ".join(str(value).split()))  # a newline would break the table
    return cells


def _warning_text(warning: Any) -> str:
    if isinstance(warning, Mapping):  # tolerate structured warnings: show their message
        return str(warning.get("message", warning))
    return str(warning)


WRITERS: dict[str, type[JsonlWriter | CsvWriter | TableWriter]] = {
    "jsonl": JsonlWriter,
    "csv": CsvWriter,
    "table": TableWriter,
}


def make_writer(
    fmt: str, stream: TextIO, *, explain: bool = False, csv_raw: bool = False,
    table_columns: tuple[str, ...] = TABLE_COLUMNS,
) -> DecisionWriter:
    """The writer for ``--format`` (``jsonl``, ``csv`` or ``table``); ``csv_raw``: CSV
    cells are written without neutralising formulas; ``table_columns``: the table's."""
    try:
        cls = WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown output format {fmt!r} (expected {', '.join(WRITERS)})") from None
    if cls is CsvWriter:
        return CsvWriter(stream, explain=explain, raw=csv_raw)
    if cls is TableWriter:
        return TableWriter(stream, explain=explain, columns=table_columns)
    return cls(stream, explain=explain)
