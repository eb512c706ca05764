"""strptime formats of imports (SPEC §16): checked once at load, used per value.

``format_problem`` says what is wrong with a format (``sfa validate``), ``parse`` reads
one value with a valid one; two-digit years follow strptime (69-99 -> 19xx, 00-68 ->
20xx).
"""

from __future__ import annotations

import re
from datetime import datetime

__all__ = ["example", "format_problem", "parse", "suggest"]

_SAMPLE = datetime(2027, 11, 23, 14, 5, 9)  # every part distinct from strptime's defaults
_TOKENS = re.compile(r"yyyy|yy|mmm|mm|dd|hh", re.IGNORECASE)
_YEARS = ("%Y", "%y", "%G", "%c", "%x")  # the directives that read a year
_SPELLED = {"yyyy": "%Y", "yy": "%y", "mmm": "%b", "mm": "%m", "dd": "%d", "hh": "%H"}


def suggest(fmt: str) -> str | None:
    """``%d-%m-%y`` for ``dd-mm-yy``: the strptime form of a spreadsheet-style format."""
    if "%" in fmt or not _TOKENS.search(fmt):
        return None
    return _TOKENS.sub(lambda m: _SPELLED[m.group(0).lower()], fmt)


def format_problem(fmt: str) -> str | None:
    """Why ``fmt`` cannot read dates (no directive, a bad one, no year, month or day),
    or None when it can."""
    if "%" not in fmt.replace("%%", ""):
        hint = suggest(fmt)
        return "has no strptime directive" + (f" (did you mean '{hint}'?)" if hint else
                                             " such as %Y, %m, %d")
    # A day read without a year is deprecated in strptime (its leap-day default): a
    # format with no year directive is tried with one added, and said to read none.
    reads_year = any(d in fmt.replace("%%", "") for d in _YEARS)
    probe = fmt if reads_year else fmt + " %Y"
    try:
        back = datetime.strptime(_SAMPLE.strftime(probe), probe)
    except ValueError as exc:  # its message quotes the probe, which the user never wrote
        return f"is not a strptime format: {str(exc).replace(repr(probe), repr(fmt))}"
    missing = [name for name, got, want in (
        ("year", back.year if reads_year else None, _SAMPLE.year),
        ("month", back.month, _SAMPLE.month), ("day", back.day, _SAMPLE.day)) if got != want]
    if missing:
        named = ", ".join(missing[:-1]) + " and " + missing[-1] if len(missing) > 1 else missing[0]
        return f"does not read the {named} of a date"
    return None


def parse(text: str, fmt: str) -> str | None:
    """The ISO date ``YYYY-MM-DD`` of ``text`` read with ``fmt``, or None."""
    try:
        return datetime.strptime(text.strip(), fmt).date().isoformat()
    except ValueError:
        return None


def example(fmt: str) -> str:
    """A date written in ``fmt`` (23 November 2027), for messages."""
    return _SAMPLE.strftime(fmt)
