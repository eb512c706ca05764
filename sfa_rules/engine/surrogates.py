"""Lone surrogates in records: ``"\\udc80"`` is valid JSON but not Unicode.

``json.loads`` turns such an escape into a lone surrogate, a ``str`` that cannot be
encoded as UTF-8: left in a record it would fail later, far from its row (writing the
decisions, committing the state). A line that has one is a ``bad-encoding`` row; its
record, kept so that the decision can show the row's id and type, has every lone
surrogate replaced by U+FFFD. Records given as Python objects (``Session.process``
over dicts) can hold them too (text decoded with ``errors="surrogateescape"``): the
session checks those with `lone_surrogate`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sfa_rules.errors import RecordError

__all__ = ["MAY_HAVE_SURROGATE", "check_surrogates", "lone_surrogate"]

# the escape of a UTF-16 surrogate (D800-DFFF) in the raw line: only then look further
MAY_HAVE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_surrogates(record: dict[str, Any]) -> tuple[dict[str, Any], RecordError] | None:
    """The record cleaned and a ``bad-encoding`` error, or None when it has no lone
    surrogate (pairs were joined by ``json.loads`` already)."""
    where = _find(record, "")
    if where is None:
        return None
    field = where or None
    error = RecordError(
        "bad-encoding",
        f"field {where!r} holds an escaped lone UTF-16 surrogate (like \\udc80), "
        "which is not a character: fix the value in the export",
        field,
    )
    return _clean(record), error


def lone_surrogate(record: Mapping[str, Any]) -> tuple[dict[str, Any], RecordError] | None:
    """`check_surrogates` for a record of any shape, quick on the usual one (ASCII
    names, ASCII text, numbers): only a record with something else is searched."""
    try:  # all of it text (most dicts): the whole checked at once
        if "".join(record.values()).isascii() and "".join(record).isascii():
            return None
    except TypeError:  # numbers, None, nested values: field by field
        pass
    for key, value in record.items():
        kind = type(value)
        plain = (kind is str and value.isascii()) or value is None or kind in _NUMBERS
        if not plain or not key.isascii():
            return check_surrogates(dict(record))
    return None


_NUMBERS = frozenset({int, float, bool})


def _find(value: Any, path: str) -> str | None:
    """The dotted path of the first key or string holding a lone surrogate."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if _SURROGATE.search(key):
                return _replace(here)
            found = _find(item, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for item in value:
            found = _find(item, path)
            if found is not None:
                return found
    return None


def _replace(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _replace(value)
    if isinstance(value, dict):
        return {_replace(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
