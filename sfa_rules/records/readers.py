"""Records in: CSV, JSON Lines and Parquet files -> one ``InputRow`` per row (SPEC §8).

The readers stream: one row (CSV, JSON Lines) or one small batch (Parquet) is in
memory at a time, whatever the size of the file. They do not interpret fields: keys
pass through exactly as the file spells them (aliases are the engine's business), so
the only field read here is the record type.

Choices the SPEC leaves open, written down here:

- ``source`` is the path exactly as the caller gave it (``data/leads.csv`` stays
  ``data/leads.csv``), so a decision points at the file the user named.
- CSV: ``row`` is the 1-based data record (the header is not a row; a quoted field
  spanning lines is still one row). Blank lines are skipped and not counted, so row N
  is the N-th data row, as pandas or ``csv.DictReader`` count. Values stay strings;
  empty or blank cells are absent. Columns with a blank header are dropped; of two
  columns with the same header, the first non-empty cell wins. A row holding more
  non-empty cells than the header has columns, a row over ``csvrecords.ROW_LIMIT``
  (1 MiB, its lines together) or one with an unbalanced quote (see ``csvrecords``: the
  rows after it are still read) is a record error ``bad-csv``; a header row that cannot
  be read is an ``InputError`` from ``open_inputs``, before any row.
- JSON Lines (``.jsonl``, ``.ndjson``): ``row`` is the line number; blank lines are
  skipped. A line over ``JSON_LINE_LIMIT`` (8 MiB) is a record error ``bad-json``, and
  so is a line that is not a JSON object (a code the
  SPEC's list does not have). Values keep their JSON types; nested objects stay dicts.
- Parquet (``.parquet``, needs ``pip install 'sfa-rules[parquet]'``): ``row`` is the
  1-based row; nulls are absent; dates and timestamps become ISO strings and decimals
  exact strings, so that they read like the same value in a CSV export.
- CSV cells are split on commas, semicolons or tabs: whichever the header uses (see
  ``csvrecords.delimiter_of``); a ``.tsv`` file's on tabs.
- CSV and JSON Lines files are UTF-8 (a BOM is skipped), or UTF-16 / UTF-32 when they
  start with that byte order mark (Excel's "Unicode" CSV, Windows PowerShell's files);
  a CSV header holding NUL bytes (UTF-16 without its mark, a binary file) or invalid
  UTF-8 is an ``InputError``.
- Invalid UTF-8 makes that row a ``bad-encoding`` error (CSV, JSON Lines), and so
  does an escaped lone surrogate in a JSON line (see ``surrogates``); the rest of the
  file is still read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from sfa_rules.engine.rows import RECORD_TYPES, TYPE_NAMES, InputRow, normalise_type
from sfa_rules.errors import RecordError, did_you_mean
from sfa_rules.records import parquet
from sfa_rules.records.csvrecords import CsvRecords
from sfa_rules.records.inputs import (
    FORMATS,
    InputError,
    InputFile,
    TypeResolver,
    fold,
    text_encoding,
)
from sfa_rules.records.jsonlines import read_jsonl

__all__ = [
    "FORMATS",
    "RECORD_TYPES",
    "InputError",
    "InputFile",
    "InputRow",
    "normalise_type",
    "open_inputs",
    "read",
]

# what surrogateescape turns invalid UTF-8 bytes into
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


# What a file of a near-miss format most likely holds, and the name that reads it.
_RENAME_HINTS = {
    ".json": "; a .json file of one JSON object per line is JSON Lines: name it .jsonl",
    ".txt": "; a .txt file Excel saved as \"Unicode Text\" is tab-separated: name it .tsv",
}


class FileImport(Protocol):
    """What the readers need of a file's import (``records.imports.CompiledImport``)."""

    static_type: str | None  # the type of every row without a type column, or None

    def rows(self, rows: Iterable[InputRow],
             columns: Sequence[str] | None = None) -> Iterator[InputRow]: ...


def open_inputs(paths: Iterable[str | os.PathLike[str]],
                readings: Sequence[object] | None = None) -> list[InputFile]:
    """Check that every file exists, is readable, has a known format and is named once
    (``readings``: how each is read, its import; one file read through two is fine).

    Raises ``InputError`` naming every unusable file, so nothing is processed when
    one of them would fail later.
    """
    files: list[InputFile] = []
    problems: list[str] = []
    seen: dict[tuple[int, int, int | None], str] = {}  # the file, how it is read -> its name
    for n, given in enumerate(paths):
        source = os.fspath(given)
        path = Path(source)
        fmt = FORMATS.get(path.suffix.lower())
        try:
            if path.is_dir():
                problems.append(f"{source}: is a directory, not a file")
                continue
            with path.open("rb"):
                pass
            stat = path.stat()
            size = stat.st_size
        except OSError as exc:
            reason = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror
            problems.append(f"{source}: cannot read: {reason}")
            continue
        # its rows would be applied (or counted) twice; through two imports, they are not
        key = (stat.st_dev, stat.st_ino, id(readings[n]) if readings else None)
        if stat.st_ino and key in seen:
            problems.append(f"{source}: the same file as {seen[key]}, named before: name "
                            "each file once")
            continue
        seen[key] = source
        if fmt is None:
            known = ", ".join(FORMATS)
            hint = _RENAME_HINTS.get(path.suffix.lower(), "")
            problems.append(f"{source}: unknown file format {path.suffix!r} (expected {known})"
                            f"{hint}")
            continue
        problem = _CHECKS[fmt](source, path) if fmt in _CHECKS else None
        if problem:  # pyarrow is imported only for a Parquet file
            problems.append(problem)
            continue
        files.append(InputFile(source, path, fmt, size))
    if problems:
        raise InputError(problems)
    return files


def read(
    paths: Iterable[str | os.PathLike[str]],
    *,
    type_override: str | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    imports: Sequence[FileImport | None] | None = None,
) -> Iterator[InputRow]:
    """Every row of the files, in the order given, as ``InputRow`` values (lazily).

    The files are checked before this returns (``InputError``), and so is
    ``type_override`` (the ``--type`` option; ``InputError`` when it names no type).
    ``aliases`` is ``settings.fields``: only the names it gives ``type`` are used here,
    to find the type column. ``imports`` holds the import of each file (SPEC §16:
    ``records.imports.CompiledImport``), or None where a file has none.
    """
    files = open_inputs(paths, imports)
    override = None
    if type_override is not None:
        override = normalise_type(type_override)
        if override is None:
            hint = did_you_mean(type_override.strip().lower(), TYPE_NAMES)
            raise InputError([f"--type: unknown record type {type_override!r}{hint}"])
    type_keys = frozenset(fold(name) for name in ("type", *((aliases or {}).get("type") or ())))
    return _read_all(files, override, type_keys, imports or [None] * len(files))


def _read_all(
    files: list[InputFile], override: str | None, type_keys: frozenset[str],
    imports: Sequence[FileImport | None],
) -> Iterator[InputRow]:
    for file, imp in zip(files, imports, strict=True):
        fallback = (imp.static_type if imp is not None else None) or override or \
            normalise_type(Path(file.source).name.split(".")[0])
        rows = _READERS[file.format](file, TypeResolver(file.source, fallback, type_keys))
        if imp is None:
            yield from rows
        else:  # a CSV's header tells the import which of its columns the file lacks
            yield from imp.rows(rows, _header(file.path, file.source)
                                if file.format == "csv" else None)


# -- CSV ---------------------------------------------------------------------------


def csv_delimiter(path: Path) -> str | None:
    """A ``.tsv`` file's delimiter, a tab; None for a ``.csv``: the header's (sniffed)."""
    return "\t" if path.suffix.lower() == ".tsv" else None


def _open_csv(path: Path) -> TextIO:
    # Decoding with surrogateescape keeps csv's handling of quotes and newlines intact
    # while every invalid byte survives as a lone surrogate, found again per row. It
    # escapes bytes only, not UTF-16's broken pairs: those read as U+FFFD.
    encoding = text_encoding(path)
    errors = "surrogateescape" if encoding == "utf-8-sig" else "replace"
    return open(path, encoding=encoding, errors=errors, newline="")


def _csv_header(records: CsvRecords, source: str) -> list[str] | None:
    """The first non-blank record; ``InputError`` if it cannot be read."""
    for cells, problem, _, _ in records:
        if problem is not None:  # without a header no row can be read
            raise InputError([f"{source}: the header row cannot be read: {problem}"])
        if cells and any("\0" in cell for cell in cells):
            raise InputError([f"{source}: the header row holds NUL bytes: the file is not "
                              "text in UTF-8 (or UTF-16 with a byte order mark); save it as "
                              "CSV UTF-8"])
        bad = next((c for c in cells if _ESCAPED_BYTE.search(c)), None) if cells else None
        if bad is not None:  # its column would be read under a name nobody wrote
            raw = bad.encode("utf-8", "surrogateescape")  # the bytes, as bad-encoding shows
            raise InputError([f"{source}: the header row is not UTF-8: column {raw!r} "
                              "holds bytes that are not; save the file as CSV UTF-8"])
        if cells:
            return cells
    return None


def _header(path: Path, source: str) -> list[str] | None:
    """A CSV file's header; ``InputError`` if it cannot be read."""
    with _open_csv(path) as fh:
        return _csv_header(CsvRecords(fh, delimiter=csv_delimiter(path)), source)


def _check_csv(source: str, path: Path) -> str | None:
    """Why the header of ``path`` cannot be read, or None (checked before any row)."""
    try:
        _header(path, source)
    except InputError as exc:
        return exc.problems[0]
    except OSError as exc:
        return f"{source}: cannot read: {exc.strerror}"
    return None


def _read_csv(file: InputFile, types: TypeResolver) -> Iterator[InputRow]:
    with _open_csv(file.path) as fh:
        records = CsvRecords(fh, delimiter=csv_delimiter(file.path))
        header = _csv_header(records, file.source)
        if header is None:
            return
        keys = [_clean_key(k) for k in header]
        width = len(keys)
        named = all(keys)  # a column without a name is left out of every record
        once = len(set(keys)) == width  # a name twice: its first non-empty cell wins
        type_col = _type_column(keys, types)
        source = file.source
        row = 0
        for cells, problem, _, restarted in records:
            if problem is None and not cells:
                continue  # a blank line is no data row (SPEC §8), nor counted as one
            row += 1
            error: RecordError | None = None
            if problem is not None:
                if restarted:
                    problem += "; the row was read as that line alone, and the lines after it as rows"
                error = RecordError("bad-csv", problem)
            if cells is None:  # a record CSV could not read at all
                yield InputRow(source, row, types.fallback, None, error)  # as a row without a type
                continue
            joined = "".join(cells)
            if not joined.isascii() and _ESCAPED_BYTE.search(joined):
                error = error or _csv_encoding_error(keys, cells)
                cells = [_clean_key(c) for c in cells]
            elif error is None and len(cells) > width and any(c.strip() for c in cells[width:]):
                error = RecordError(
                    "bad-csv", f"the row has {len(cells)} cells but the header {width} columns"
                )
            if not once:
                record: dict[str, str] = {}
                for k, v in zip(keys, cells):
                    if k and v and not v.isspace():
                        record.setdefault(k, v)
            elif named and "" not in cells and not any(map(_isspace, cells)):
                record = dict(zip(keys, cells))  # most rows: no blank cell to leave out
            else:
                record = {k: v for k, v in zip(keys, cells) if k and v and not v.isspace()}
            rtype, problem_ = types.resolve(cells[type_col] if 0 <= type_col < len(cells) else None)
            yield InputRow(source, row, rtype, record, error or problem_)


_isspace = str.isspace


def _clean_key(key: str) -> str:
    """Text with its invalid bytes shown as U+FFFD (keys and values must stay printable)."""
    if key.isascii():
        return key
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _type_column(keys: list[str], types: TypeResolver) -> int:
    key = types.key_of(keys)
    return -1 if key is None else keys.index(key)


def _csv_encoding_error(keys: list[str], cells: list[str]) -> RecordError:
    for i, cell in enumerate(cells):
        if _ESCAPED_BYTE.search(cell):
            field = keys[i] if i < len(keys) and keys[i] else None
            raw = cell.encode("utf-8", "surrogateescape")
            where = f"field {field!r}" if field else f"cell {i + 1}"
            return RecordError("bad-encoding", f"{where} is not valid UTF-8: {raw!r}", field)
    raise AssertionError("no invalid byte in a row that has one")  # pragma: no cover


_CHECKS: dict[str, Callable[[str, Path], str | None]] = {
    "csv": _check_csv,
    "parquet": parquet.check,
}
_READERS: dict[str, Callable[[InputFile, TypeResolver], Iterator[InputRow]]] = {
    "csv": _read_csv,
    "jsonl": read_jsonl,
    "parquet": parquet.read_rows,
}
