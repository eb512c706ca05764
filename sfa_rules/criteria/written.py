"""Values written in a criterion that cannot mean what they say (SPEC §3): each is a
configuration problem at its place, so that no record is decided by what nobody meant.

- A blank value (``country: ""``): a blank field counts as absent, so no record holds
  it (``eq``, ``in``) and every record differs from it (``ne``, ``not_in``).
- A text bound of ``gt``/``gte``/``lt``/``lte``/``between`` that was meant as a date or
  a number (``{gte: 01/04/2026}``, ``{gte: "1e3"}``, ``{lt: 50k}``, ``{gte: .inf}``): as
  text it would order against records' values in ways nobody means ("800" >= "1000").
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["empty_value", "misread_bound"]

_DATE_LIKE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}")
_NUMBER_LIKE = re.compile(r"[+-]?\d[\d_,.]*(?:[eE][+-]?\d+)?\s*[kKmM]?")
_NOT_FINITE = re.compile(r"[+-]?\.?(?:inf|infinity|nan)", re.IGNORECASE)  # YAML's .inf is text here


def empty_value(name: str, op: str, value: Any, entry: bool = False) -> str | None:
    """The ``invalid-value`` message for a blank ``value`` (``entry``: one of a list's),
    else None."""
    if not isinstance(value, str) or value.strip():
        return None
    if entry and op == "not_in":
        return (f"'{name}': not_in: the empty entry excludes no record (an empty field "
                "counts as absent): leave it out, and add {exists: true} to exclude "
                "records without the field")
    if entry:
        return (f"'{name}': {op}: the empty entry matches no record (an empty field counts "
                f"as absent): leave it out, and write any: [..., {{{name}: {{exists: false}}}}] "
                "for records without the field too")
    holds = "every record holds" if op in ("ne", "not_in") else "no record matches"
    return (f"'{name}': {op} an empty value, which {holds} (an empty field counts as "
            "absent): write {exists: false} for records without the field, "
            "{exists: true} for records with it")


def misread_bound(name: str, op: str, value: Any) -> str | None:
    """The ``wrong-type`` message for a text bound meant as a date or a number, else None."""
    text = str(value).strip()
    if _DATE_LIKE.fullmatch(text):
        wanted = "the date as YYYY-MM-DD (2026-04-01)"
    elif _NUMBER_LIKE.fullmatch(text) and any(c in text for c in "_,eEkKmM"):
        wanted = "the number as plain digits (1000, 2.5)"
    elif _NOT_FINITE.fullmatch(text):
        wanted = "a finite number (1000, 2.5), or leave the bound out"
    else:
        return None
    return (f"'{name}': {op} bound {text!r} would compare as text, not as a date or a "
            f"number: write {wanted}")
