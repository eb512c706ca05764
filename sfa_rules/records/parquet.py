"""Parquet rows for ``records`` (SPEC §8), through pyarrow: ``pip install 'sfa-rules[parquet]'``.

Read by record batches, so that memory stays flat. ``row`` is the 1-based row; nulls
and blank strings are absent, as empty CSV cells are; dates and timestamps become ISO
strings (a timestamp at midnight, naive or UTC, its day: pandas writes dates so) and
decimals exact strings, so that a value reads as it would in a CSV export;
nested structs stay dicts. A value Python cannot hold (a ``timestamp[ns]`` with a
nanosecond part, a date past 9999) is converted on its own (see ``parquet_time``):
ISO text when its year is 1 to 9999, else an error for its row only (``bad-date``;
``bad-value`` for anything else), and the rest of the file is read. A row group that
cannot be read (a damaged file) is ``bad-parquet`` on each of its rows not read.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sfa_rules.criteria.values import blank
from sfa_rules.engine.rows import InputRow
from sfa_rules.errors import RecordError
from sfa_rules.records import parquet_time
from sfa_rules.records.inputs import InputFile, TypeResolver

__all__ = ["PARQUET_BATCH_ROWS", "PARQUET_HINT", "check", "read_rows"]

PARQUET_HINT = "pip install 'sfa-rules[parquet]'"
PARQUET_BATCH_ROWS = 2048  # small batches keep memory flat; larger ones gain little speed


def check(source: str, path: Path) -> str | None:
    """Why ``path`` cannot be read as Parquet (pyarrow missing, not Parquet), or None."""
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        return f"{source}: reading Parquet needs pyarrow: {PARQUET_HINT}"
    try:
        with pq.ParquetFile(path):
            return None
    except (pa.ArrowException, OSError) as exc:
        return f"{source}: not a readable Parquet file: {exc}"


def read_rows(file: InputFile, types: TypeResolver) -> Iterator[InputRow]:
    """The rows of a checked Parquet file, a batch of rows in memory at a time."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    source = file.source
    row = 0
    with pq.ParquetFile(file.path) as pf:
        names = pf.schema_arrow.names
        type_key = types.key_of(names)
        for group in range(pf.num_row_groups):
            end = row + pf.metadata.row_group(group).num_rows
            try:
                for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group]):
                    columns = [_column(batch.column(i), names[i])
                               for i in range(batch.num_columns)]
                    for cells in zip(*columns) if columns else ((),) * batch.num_rows:
                        row += 1
                        yield _row(source, row, names, cells, types, type_key)
            except (pa.ArrowException, OSError) as exc:  # a damaged part of the file:
                # each of its rows not read is a row in error, the other parts are read
                error = RecordError("bad-parquet", f"row group {group + 1} of the file "
                                    f"cannot be read (the file is damaged): {exc}")
                while row < end:
                    row += 1
                    yield InputRow(source, row, None, None, error)


def _row(
    source: str, row: int, names: list[str], cells: tuple[Any, ...], types: TypeResolver,
    type_key: str | None,
) -> InputRow:
    error: RecordError | None = None
    record: dict[str, Any] = {}
    for name, value in zip(names, cells):
        if isinstance(value, RecordError):
            error = error or value
        elif not blank(value):
            try:
                record[name] = _plain(value)
            except UnicodeDecodeError as exc:
                msg = f"a binary value is not valid UTF-8: {exc}"
                return InputRow(source, row, None, None, RecordError("bad-encoding", msg))
    rtype, problem = types.resolve(None if type_key is None else record.get(type_key))
    return InputRow(source, row, rtype, record, error or problem)


def _column(array: Any, name: str) -> list[Any]:
    """A column's values as Python objects; a value Python cannot hold (a nanosecond
    timestamp, a date past 9999) becomes ISO text, or a RecordError for its row."""
    try:
        return array.to_pylist()  # type: ignore[no-any-return]
    except (ValueError, OverflowError, ArithmeticError):
        pass
    return [_value(array, i, name) for i in range(len(array))]


def _value(array: Any, i: int, name: str) -> Any:
    scalar = array[i]
    try:
        return scalar.as_py()
    except UnicodeDecodeError as exc:  # text that is not UTF-8
        return RecordError("bad-encoding", f"column {name!r} is not valid UTF-8: {exc}", name)
    except (ValueError, OverflowError, ArithmeticError) as exc:
        problem = str(exc).split(". Install pandas")[0]  # pandas would not help here
    text = parquet_time.as_iso(array, i)
    if text is not None:
        return text
    return RecordError(
        "bad-date" if parquet_time.is_temporal(array.type) else "bad-value",
        f"column {name!r}: the value cannot be read ({array.type}): {problem}",
        name,
    )


def _plain(value: Any) -> Any:
    """A Parquet value as the JSON-like value a CSV or JSON export would carry."""
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, dt.datetime) and value.time() == dt.time() \
            and value.utcoffset() in (None, dt.timedelta(0)):
        return value.date().isoformat()  # midnight: a day, as pandas writes dates
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
