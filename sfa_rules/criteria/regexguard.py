"""Criteria regexes with a time limit per match (SPEC §3 ``regex``).

Python's ``re`` cannot be interrupted: one record value can make a backtracking
pattern run for hours, and the static check (``regexsafety``) cannot see every slow
shape. A criteria regex is therefore matched with the ``regex`` package (a maintained
drop-in for ``re`` with a compiled core; in its default VERSION0 mode it reads
``re``'s syntax the same way) and a ``timeout``: a match that takes longer than
``TIMEOUT`` seconds fails, and the record gets a warning saying so. Normal patterns
take microseconds, so their decisions are those of ``re``.

A pattern without quantifiers (``^acme``, ``@(gmail|yahoo)\\.``, most criteria regexes)
cannot backtrack for long: it stays on ``re``, which is several times faster per call
than a search with a time limit (0.3 us against 3-4 us, measured).

``regex`` reads ``\\w``, ``\\s`` and ``\\b`` by Unicode's definitions, not ``re``'s
(``str.isalnum``, ``str.isspace``): its ``\\w`` takes in combining marks (the accent of
a decomposed ``José``) and leaves out ``½``, its ``\\s`` leaves out ``\\x1c``-``\\x1f``.
So they are spelled out as ``re`` reads them (``re_classes``), which makes the two agree
on every assigned character; a pattern where that cannot be written (``[\\W]``, a
verbose pattern) stays on ``re``. One known difference is left: under IGNORECASE, ``re``
lets ``[a-z]`` match the dotless ``ı`` (its upper case is ``I``), ``regex`` does not.

The pattern is still compiled by ``re`` first: ``re`` decides what is valid
(``bad-regex``). The few patterns that ``re`` reads differently from ``regex`` (``re``
warns of a possible nested set or set operation: ``[[:alpha:]]``, ``[a&&b]``) are
matched with ``re`` itself, unguarded, so that their meaning never changes.
"""

from __future__ import annotations

import importlib
import re
import warnings
from typing import Any

import regex

from sfa_rules.criteria.regexsafety import is_plain

_parser: Any = importlib.import_module("re._parser")

# Seconds one search may take before it fails with a warning on the record.
TIMEOUT = 0.25
_SLOW_LIMIT = 1_000  # values known to time out, per pattern (each times out only once)


class GuardedPattern:
    """A compiled criteria regex: ``pattern`` and ``flags`` as ``re`` has them (the
    index reads them for literal prefixes), ``test(facts, field, text)`` for a match."""

    __slots__ = ("_search", "_slow", "flags", "guarded", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        compiled = _quiet_compile(pattern, flags)  # raises re.error for a bad pattern
        self.pattern = pattern
        self.flags = compiled.flags
        self._search: Any = compiled.search
        self.guarded = False
        as_re_reads = None
        if not _read_differently(pattern, flags) and not is_plain(pattern, flags):
            as_re_reads = re_classes(pattern, compiled.flags)
        if as_re_reads is not None:
            try:
                self._search = regex.compile(as_re_reads, _regex_flags(flags)).search
                self.guarded = True
            except regex.error:  # pragma: no cover - re's syntax is regex's
                pass
        self._slow: dict[str, None] = {}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, GuardedPattern)
                and (self.pattern, self.flags) == (other.pattern, other.flags))

    def __hash__(self) -> int:
        return hash((self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"GuardedPattern({self.pattern!r}, {self.flags})"

    def search(self, text: str) -> bool:
        """Does the pattern find a match in ``text``? False when it timed out."""
        if text in self._slow:
            return False
        try:
            if not self.guarded:
                return self._search(text) is not None
            return self._search(text, timeout=TIMEOUT) is not None
        except TimeoutError:
            if len(self._slow) >= _SLOW_LIMIT:
                self._slow.clear()
            self._slow[text] = None
            return False

    def test(self, facts: Any, field: str, text: str) -> bool:
        """``search`` for a record's ``facts``: a timed-out match fails and adds one
        warning to ``facts.warnings``."""
        if self.search(text):
            return True
        if text in self._slow:
            warning = (f"{field}: the regex {self.pattern!r} took more than {TIMEOUT} s on "
                       f"this value ({len(text)} characters) and was given up: it does not match")
            if warning not in facts.warnings:
                facts.warnings.append(warning)
        return False


# re's classes (str.isalnum, str.isspace) written for regex, whose own \w takes in the
# combining marks of decomposed text (José in NFD) and whose \s leaves out \x1c-\x1f.
_WORD = r"\p{L}\p{N}_"
_SPACE = r"\s\x1c-\x1f"
_OUTSIDE = {
    "w": f"[{_WORD}]", "W": f"[^{_WORD}]", "s": f"[{_SPACE}]", "S": f"[^{_SPACE}]",
    "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
    "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))",
}
_INSIDE = {"w": _WORD, "s": _SPACE}


def re_classes(pattern: str, flags: int) -> str | None:
    """``pattern`` with ``\\w \\W \\s \\S \\b \\B`` spelled out as ``re`` reads them, for
    ``regex``; None where that cannot be written (``[\\W]``, a verbose pattern)."""
    if flags & re.ASCII:
        return pattern  # both read the ASCII classes alike
    if flags & re.VERBOSE:
        return None  # a comment may hold a "[": the sets cannot be followed safely
    out: list[str] = []
    in_set = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            e = pattern[i + 1]
            if in_set and e in "WSB":
                return None
            out.append((_INSIDE if in_set else _OUTSIDE).get(e, c + e))
            i += 2
            continue
        if c == "[" and not in_set:
            in_set = True
            out.append(c)
            i += 1
            for lead in ("^", "]"):  # []a] and [^]a]: a first "]" is a character
                if pattern.startswith(lead, i):
                    out.append(lead)
                    i += 1
            continue
        in_set = in_set and c != "]"
        out.append(c)
        i += 1
    return "".join(out)


def _regex_flags(flags: int) -> int:
    out: int = regex.VERSION0
    for name in ("IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII"):
        if flags & getattr(re, name):
            out |= int(getattr(regex, name))
    return out


def _read_differently(pattern: str, flags: int) -> bool:
    """Does ``re`` warn that a later Python may read the pattern differently (a nested
    set, a set operation)? ``regex`` already does. (The parser, not ``re.compile``:
    a cached pattern would not warn again.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        try:
            _parser.parse(pattern, flags)
        except FutureWarning:
            return True
    return False


def _quiet_compile(pattern: str, flags: int) -> re.Pattern[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(pattern, flags)
