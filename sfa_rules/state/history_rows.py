"""A history entry as both stores keep it (SPEC §18): the detail of the common kinds in
five text columns, in the kind's own order, so that a row costs no JSON (most entries
are assignments and status changes, one or two per record); any other detail (a
follow-up's action, a value that is not text) as JSON in ``detail``, the columns empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from sfa_rules.entities import HistoryEntry

__all__ = ["KIND_FIELDS", "entry_from_row", "entry_row"]

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "assignment": ("owner", "territory", "how"),
    "status": ("from", "to", "event"),
    "activity": ("kind", "id", "owner", "subject", "outcome"),
    "contact": ("id", "name", "email", "phone", "role"),
    "opportunity": ("id", "status", "amount", "event"),
}
_NONE5 = (None, None, None, None, None)
# per kind: how many keys, their values in order (every kind has several), the padding
_PICK = {kind: (len(f), itemgetter(*f), _NONE5[len(f):]) for kind, f in KIND_FIELDS.items()}
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def entry_row(entry: HistoryEntry, seq: int) -> tuple[Any, ...]:
    """(customer, seq, date, kind, v1..v5, detail, source) of ``entry``."""
    detail: Mapping[str, Any] = entry.detail
    pick = _PICK.get(entry.kind)
    if pick is not None and len(detail) == pick[0]:
        try:
            values = pick[1](detail)
        except KeyError:
            values = (detail,)  # another key: not text, so JSON below
        for v in values:
            if v is not None and type(v) is not str:
                break
        else:
            return (entry.customer, seq, entry.date, entry.kind, *values, *pick[2], None,
                    entry.source)
    return (entry.customer, seq, entry.date, entry.kind, *_NONE5, _encode(dict(detail)),
            entry.source)


def entry_from_row(row: tuple[Any, ...]) -> HistoryEntry:
    """The entry of a row `entry_row` made."""
    customer, seq, date, kind = row[0], int(row[1]), row[2], row[3]
    if row[9] is not None:
        detail: dict[str, Any] = json.loads(row[9])
    else:
        detail = dict(zip(KIND_FIELDS[kind], row[4:9], strict=False))
    return HistoryEntry(customer, date, kind, detail, row[10], seq)
