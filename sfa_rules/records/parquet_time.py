"""Parquet dates and times Python's ``datetime`` cannot hold, as ISO text.

``pyarrow`` converts temporal values to ``datetime`` objects, which stop at
microseconds and at year 9999: a ``timestamp[ns]`` with a nanosecond part, or a
``date32`` past 9999, raises instead. Such a value is read here through Arrow's own
cast to text, made ISO 8601 (``2026-01-01T10:00:00.123456789``, ``-05:00`` offsets),
so that nothing is lost when the year is 1 to 9999. A value outside those years is
left to the caller (a ``bad-date`` error for its row): no later step could use it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["as_iso", "is_temporal"]

_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d:\d\d:\d\d(?:\.\d+)?))?(Z|[+-]\d\d:?\d\d)?")


def is_temporal(arrow_type: Any) -> bool:
    """Whether a column holds dates, times or timestamps."""
    import pyarrow.types as pat  # type: ignore[import-untyped, unused-ignore]

    return bool(pat.is_temporal(arrow_type))


def as_iso(array: Any, i: int) -> str | None:
    """Value ``i`` of a temporal array as ISO text, or None (not temporal, or a year
    outside 1 to 9999)."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

    if not is_temporal(array.type) or pa.types.is_duration(array.type):
        return None
    try:
        text = pc.cast(array.slice(i, 1), pa.string())[0].as_py()
    except pa.ArrowException:
        return None
    if text is None:
        return None
    if pa.types.is_time(array.type):
        return str(text)
    m = _ISO.fullmatch(text)
    if m is None:  # e.g. year 10000 or a year before 1
        return None
    year, month, day, clock, zone = m.groups()
    out = f"{year}-{month}-{day}"
    if clock is not None:
        out += f"T{clock}"
    if zone == "Z":
        out += "+00:00"
    elif zone:
        out += zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    return out if year != "0000" else None
