"""Parquet rows for ``records`` (SPEC §8), through pyarrow: ``pip install 'sfa-rules[parquet]'``.

Read by record batches, so that memory stays flat. ``row`` is the 1-based row; nulls
and blank strings are absent, as empty CSV cells are; dates and timestamps become ISO
strings and decimals exact strings, so that a value reads as it would in a CSV export;
nested structs stay dicts.
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
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    source = file.source
    row = 0
    with pq.ParquetFile(file.path) as pf:
        type_key = types.key_of(pf.schema_arrow.names)
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for raw in batch.to_pylist():
                row += 1
                try:
                    record = {k: _plain(v) for k, v in raw.items() if not blank(v)}
                except UnicodeDecodeError as exc:
                    error = RecordError("bad-encoding", f"a binary value is not valid UTF-8: {exc}")
                    yield InputRow(source, row, None, None, error)
                    continue
                rtype, problem = types.resolve(None if type_key is None else record.get(type_key))
                yield InputRow(source, row, rtype, record, problem)


def _plain(value: Any) -> Any:
    """A Parquet value as the JSON-like value a CSV or JSON export would carry."""
    if isinstance(value, (str, int, float)):
        return value
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
