"""JSON Lines files (``.jsonl``, ``.ndjson``): one JSON object per line, as rows.

``row`` is the line number; blank lines are skipped. A line over ``JSON_LINE_LIMIT``
(8 MiB) or one that is not a JSON object is a record error ``bad-json``; invalid UTF-8
or an escaped lone surrogate is ``bad-encoding``. The rest of the file is still read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, AnyStr

from sfa_rules.engine.rows import InputRow
from sfa_rules.engine.surrogates import MAY_HAVE_SURROGATE, check_surrogates
from sfa_rules.errors import RecordError
from sfa_rules.records.inputs import InputFile, TypeResolver, text_encoding

__all__ = ["JSON_LINE_LIMIT", "read_jsonl"]

_BOM = b"\xef\xbb\xbf"
JSON_LINE_LIMIT = 8 << 20  # bytes in one JSON line (characters, in a UTF-16 file)


def _jsonl_lines(path: Path) -> Iterator[bytes | None]:
    """A JSON Lines file's lines as UTF-8 (Windows PowerShell's files, UTF-16, re-encoded);
    None for a line over ``JSON_LINE_LIMIT``, read past without holding it (a JSON array
    of a whole export on one line)."""
    encoding = text_encoding(path)
    if encoding == "utf-8-sig":
        with open(path, "rb") as fh:
            yield from _bounded(fh.readline, b"\n")
        return
    with open(path, encoding=encoding, errors="replace", newline="\n") as text:
        for line in _bounded(text.readline, "\n"):
            yield None if line is None else line.encode("utf-8")


def _bounded(readline: Callable[[int], AnyStr], newline: AnyStr) -> Iterator[AnyStr | None]:
    while line := readline(JSON_LINE_LIMIT + 1):
        if len(line) > JSON_LINE_LIMIT and not line.endswith(newline):
            while (rest := readline(1 << 16)) and not rest.endswith(newline):
                pass
            yield None
        else:
            yield line


def read_jsonl(file: InputFile, types: TypeResolver) -> Iterator[InputRow]:
    source = file.source
    unread = types.fallback  # a line not read: the type of a row without one
    for row, line in enumerate(_jsonl_lines(file.path), 1):
        if line is None:
            failure = RecordError("bad-json", f"the line is longer than {JSON_LINE_LIMIT:,} "
                                  "bytes: it was not read (one JSON object per line)")
            yield InputRow(source, row, unread, None, failure)
            continue
        if row == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if not line.strip():
            continue
        error: RecordError | None = None
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.end + 8]
            error = RecordError(
                "bad-encoding", f"the line is not valid UTF-8 at byte {exc.start + 1}: {bad!r}"
            )
            # still parsed, so that the decision can show the row's id and type
            text = line.decode("utf-8", "replace")
        try:
            record = json.loads(text.rstrip("\r\n"))  # so errors point into the line
        except RecursionError:
            failure = RecordError("bad-json", "the line nests values too deeply to read")
            yield InputRow(source, row, unread, None, error or failure)
            continue
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            pos = getattr(exc, "pos", None)
            where = f" at column {pos + 1}" if pos is not None else ""
            failure = RecordError("bad-json", f"the line is not valid JSON: {msg}{where}")
            yield InputRow(source, row, unread, None, error or failure)
            continue
        if not isinstance(record, dict):
            failure = RecordError(
                "bad-json", f"a JSON object was expected, not {_json_kind(record)}"
            )
            yield InputRow(source, row, unread, None, error or failure)
            continue
        if MAY_HAVE_SURROGATE.search(line):
            found = check_surrogates(record)
            if found is not None:
                record, error = found[0], error or found[1]
        value = record.get("type")
        if value is None:
            key = types.key_of(record)
            value = None if key is None else record[key]
        rtype, problem = types.resolve(value)
        yield InputRow(source, row, rtype, record, error or problem)


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")
