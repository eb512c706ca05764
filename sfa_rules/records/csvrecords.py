"""CSV records: a file split into rows before csv parses each one (SPEC §8).

``csv.reader`` alone loses its place on a broken row: past its field limit it carries
on from the middle of the field (the rest of a long quoted note becomes rows of its
own), and a quote that never closes swallows every later line into one row. Here the
file is first cut into records by a small scanner that follows the quoting rules of
``csv`` (Excel dialect, not strict), and each record is then parsed on its own, so a
broken row is one row in error and the next row starts where it should:

- a row over ``ROW_LIMIT`` characters (all its lines together) is an error; it is
  scanned to its end, never held whole in memory (memory stays bounded);
- a quoted field still open at the end of the file, or one that closes on a later
  line followed by anything but a comma or the line end (blanks before them allowed) (``"abc\\n...x"y``: a stray
  quote took the lines between as text), is an error for the row it opened in; that
  row is its first line read alone, and reading starts again at the line after it,
  so the rows the quote swallowed are rows again;
- a field over ``csv``'s own limit but within ``ROW_LIMIT`` is read whole.

The delimiter is a comma, or, with ``delimiter=None``, the one of ``,`` ``;`` and tab
found most often outside quotes in the first non-blank line (the header): exports from
a spreadsheet set to a language whose decimal mark is a comma use semicolons, and
Excel's "Unicode text" uses tabs; a first line ``sep=;`` (Excel's own hint) names it
and is no record. Below, "comma" is that delimiter.

Most lines hold no quote: they are split on commas. A record with quotes that a strict
``csv.reader`` reads (no text after a closing quote, no quote left open, within the
limits) is read by it; only the others go through the scanner.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple, TextIO

__all__ = ["DELIMITERS", "ROW_LIMIT", "CsvRecord", "CsvRecords", "delimiter_of"]

ROW_LIMIT = 1 << 20  # characters in one row, its lines together (1 MiB of ASCII)
_CHUNK = 1 << 16  # a physical line is read in pieces of at most this many characters
_START, _FIELD, _QUOTED, _QUOTE = range(4)  # the scanner's states (as csv's parser)
_NEWLINES = ("\n", "\r")
DELIMITERS = {",": "a comma", ";": "a semicolon", "\t": "a tab"}  # by preference
_QUOTED_TEXT = re.compile(r'"[^"]*"?')
_SNIFF_LINES = 1000  # blank lines above the header looked through for its delimiter
_SEP_LINE = re.compile(r'(?i)sep=([^"\r\n])')  # Excel's line above the header naming it


# One record: its cells (``[]`` for a blank line) or None; a problem or None; the
# physical line it starts on (1-based); whether the lines after its first are read
# again (an unbalanced quote). With a problem, ``cells`` is what its first line holds
# (for the id and type of a row in error), when that can be read. A plain tuple: one
# is made per row.
CsvRecord = tuple[list[str] | None, str | None, int, bool]


class _Scan(NamedTuple):
    state: int
    ended: bool  # the record ends with this piece (at its line end)
    junk: str | None  # what followed a quote closed on a later line than it opened
    carried: bool  # a quoted field open at the end was opened on an earlier line


def delimiter_of(header: str) -> str:
    """The delimiter a header line uses: the one of ``DELIMITERS`` found most often
    outside its quoted names (a comma on a tie, and when there is none)."""
    bare = _QUOTED_TEXT.sub("", header)
    return max(DELIMITERS, key=bare.count)  # max keeps the first of equals


def _scan(text: str, state: int, carried: bool, sep: str, end: re.Pattern[str]) -> _Scan:
    """The scanner's state after ``text``, starting in ``state``; ``carried``: a quoted
    field open at the start of ``text`` was opened on an earlier line; ``sep`` the
    delimiter and ``end`` the pattern of a delimiter or a line end."""
    i, n = 0, len(text)
    while i < n:
        if state == _QUOTED:
            j = text.find('"', i)
            if j < 0:
                return _Scan(_QUOTED, False, None, carried)
            i, state = j + 1, _QUOTE
            continue
        if state == _QUOTE:
            c = text[i]
            if c == '"':  # an escaped quote
                i, state = i + 1, _QUOTED
                continue
            if c in _NEWLINES:
                return _Scan(_START, True, None, False)
            if c != sep and carried:
                after = text[i:].lstrip(" \t".replace(sep, ""))[:1]  # blanks before a comma are harmless
                if after not in ("", sep, "\r", "\n"):
                    return _Scan(_FIELD, False, after, False)
            state = _START if c == sep else _FIELD  # `"a"b` reads as `ab`, as csv does
            i += c == sep
            carried = False
            continue
        if state == _START and text[i] == '"':
            i, state = i + 1, _QUOTED
            continue
        m = end.search(text, i)
        if m is None:
            return _Scan(_FIELD, False, None, False)
        if m.group() != sep:
            return _Scan(_START, True, None, False)
        i, state, carried = m.end(), _START, False
    return _Scan(state, False, None, carried)


class _Feed:
    """The lines a strict ``csv.reader`` reads for one record: the first, then whole
    lines from ``more`` (remembered in ``taken``) while it is inside a quoted field
    and the record is within ``budget`` characters; then the end of its input."""

    __slots__ = ("budget", "line", "more", "taken")

    def __init__(self, more: Callable[[], str]) -> None:
        self.line: str | None = None
        self.more = more
        self.taken: list[str] = []
        self.budget = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line = self.line
        if line is not None:
            self.line = None
            return line
        if self.budget <= 0:
            raise StopIteration
        piece = self.more()
        if not piece:
            raise StopIteration
        self.taken.append(piece)
        self.budget -= len(piece)
        if not piece.endswith(_NEWLINES):  # part of a long line: csv would end it here
            raise StopIteration
        return piece


class CsvRecords:
    """The records of a CSV text stream (opened with ``newline=""``); iterating again
    goes on where the last iteration stopped.

    ``line`` is the number of physical lines read so far; ``delimiter`` the one cells
    are split on (``None``: the header's, see ``delimiter_of``).
    """

    def __init__(self, stream: TextIO, limit: int = ROW_LIMIT, delimiter: str | None = ",") -> None:
        self._stream = stream
        self._limit = limit
        self._skip_lf = False  # a CRLF was cut after its CR: drop the LF
        self._pending: list[str] = []  # lines to read again (last first), before the stream
        self.line = 0
        self.delimiter = self._sniff() if delimiter is None else delimiter
        self._end = re.compile(f"[{re.escape(self.delimiter)}\r\n]")
        self._feed = _Feed(self._piece)
        self._strict = csv.reader(self._feed, strict=True, delimiter=self.delimiter)

    def _sniff(self) -> str:
        """The first non-blank line's delimiter; the lines read are read again, unless
        that line is Excel's ``sep=;``, which names it and is no record."""
        taken: list[str] = []
        while len(taken) < _SNIFF_LINES and (piece := self._stream.readline(_CHUNK)):
            taken.append(piece)
            if piece.strip():
                break
        named = _SEP_LINE.fullmatch(taken[-1].rstrip("\r\n")) if taken else None
        if named:
            self.line = len(taken)
            return named[1]
        self._pending = taken[::-1]
        return delimiter_of(taken[-1]) if taken else ","

    def __iter__(self) -> Iterator[CsvRecord]:
        readline, feed, strict, sep = self._stream.readline, self._feed, self._strict, self.delimiter
        while True:
            text = self._piece() if self._skip_lf or self._pending else readline(_CHUNK)
            if not text:
                return
            first = self.line + 1
            if text[-1] in _NEWLINES:
                if '"' not in text:  # most lines: no quoting
                    self.line = first
                    body = text.rstrip("\r\n")
                    yield (body.split(sep) if body else [], None, first, False)
                    continue
                # quoted: well-formed if strict csv reads it (its lines pulled as needed)
                feed.line, feed.budget = text, self._limit - len(text)
                try:
                    cells: list[str] | None = next(strict)
                except (csv.Error, StopIteration):
                    cells = None
                    self._pending.extend(reversed(feed.taken))  # the scanner reads them again
                taken = len(feed.taken)
                feed.taken.clear()
                if cells is not None:
                    self.line = first + taken
                    yield (cells, None, first, False)
                    continue
            yield self._slow(text, first)

    def _piece(self) -> str:
        if self._pending:
            return self._pending.pop()
        text = self._stream.readline(_CHUNK)
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:] or self._stream.readline(_CHUNK)
        return text

    def _slow(self, text: str, first: int) -> CsvRecord:
        """A record with quotes, a line longer than a piece, or the file's last line."""
        lines = [text]  # its physical lines (pieces of one line joined)
        size, state, carried = len(text), _START, False
        oversized = first_ended = False
        while True:
            scan = _scan(text, state, carried, self.delimiter, self._end)
            ends_line = text.endswith(_NEWLINES)
            self.line += ends_line
            if scan.junk is not None:
                how = (f"closes on line {self.line} followed by {scan.junk!r} instead of "
                       f"{DELIMITERS.get(self.delimiter, repr(self.delimiter))} or the line end")
                return self._restart(lines, oversized, first_ended, first, how)
            if scan.ended:
                if len(text) >= _CHUNK and text.endswith("\r"):
                    self._skip_lf = True
                break
            state = scan.state
            carried = state in (_QUOTED, _QUOTE) and (ends_line or scan.carried)
            first_ended = first_ended or ends_line
            text = self._piece()
            if not text:  # the end of the file
                if state == _QUOTED:
                    return self._restart(lines, oversized, first_ended, first, "is never closed")
                self.line += not ends_line
                break
            size += len(text)
            if size > self._limit:
                oversized = True
                del lines[1:]  # keep only the first piece, for the row's id
            elif lines[-1].endswith(_NEWLINES):
                lines.append(text)
            else:
                lines[-1] += text
        if oversized:
            problem = (f"the row is longer than {self._limit:,} characters (lines {first:,} "
                       f"to {self.line:,}): it was not read")
            return (_first_cells(lines[0], self.delimiter), problem, first, False)
        return _parse(lines, first, size, self.delimiter)

    def _restart(
        self, lines: list[str], oversized: bool, first_ended: bool, first: int, how: str
    ) -> CsvRecord:
        """A quote that swallowed lines: this row is its first line alone; reading goes
        on from the line after it (the lines kept, read again; else the file read again
        from its start, which only a row over the limit needs)."""
        self._skip_lf = False
        if first_ended:
            if oversized:
                self._rewind(first)
            else:
                self._pending.extend(reversed(lines[1:]))
                self.line = first
        problem = f"unbalanced quote: the row starting on line {first:,} has a quoted field that {how}"
        return (_first_cells(lines[0], self.delimiter), problem, first, first_ended)

    def _rewind(self, line: int) -> None:
        """Read the stream again from its start up to the end of physical ``line``."""
        self._stream.seek(0)
        self._pending, self.line = [], 0
        while self.line < line:
            piece = self._piece()
            if not piece:
                break
            self.line += piece.endswith(_NEWLINES)


def _first_cells(text: str, sep: str) -> list[str] | None:
    """What a first line holds, read alone (for the id and type of a row in error)."""
    try:
        rows = list(csv.reader([text.rstrip("\r\n")], delimiter=sep))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _parse(lines: list[str], first: int, size: int, sep: str) -> CsvRecord:
    limit = csv.field_size_limit()
    try:
        if size > limit:  # a long cell in a row within ROW_LIMIT: read it whole
            csv.field_size_limit(size)
        rows = list(csv.reader(lines, delimiter=sep))
    except csv.Error as exc:
        return (None, str(exc), first, False)
    finally:
        if size > limit:
            csv.field_size_limit(limit)
    if len(rows) != 1:  # pragma: no cover - the scanner follows csv's rules
        return (None, "the row cannot be read as CSV", first, False)
    return (rows[0], None, first, False)
