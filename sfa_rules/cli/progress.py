"""Progress on stderr while rows are read (SPEC §10, §20): never in the data on stdout.

``progress_for(files)`` gives a wrapper of the row iterator, or None when no progress
is shown: it is shown when stderr is a terminal and the input is large, and always
with ``--progress`` (``progress_option``, which every command that reads records takes;
it is kept in the click context, so the commands need no parameter for it). A line
says the rows read, the rate, the time elapsed and, when the inputs are files whose
rows can be counted up front, the percentage done and the time left::

    120,000 rows  41,250 rows/s  0:00:02 elapsed  12%  0:00:21 left

On a terminal the line is rewritten in place (``\\r``) and cleared at the end; elsewhere
(``--progress`` into a log) one line is written every ``LOG_EVERY`` seconds, and a last
one when the input ends.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any, TextIO

import click

from sfa_rules.engine.rows import InputRow
from sfa_rules.records.imports import split_source

__all__ = ["PROGRESS_BYTES", "Progress", "count_rows", "progress_for", "progress_option"]

PROGRESS_BYTES = 5_000_000  # inputs smaller than this finish before progress helps
TTY_EVERY = 0.25  # seconds between updates on a terminal
LOG_EVERY = 5.0  # seconds between lines elsewhere
CHECK_EVERY = 512  # rows between looks at the clock
CHUNK = 1 << 20

Wrap = Callable[[Iterator[InputRow]], Iterator[InputRow]]
_META = "sfa_rules.progress"  # where --progress is kept in the click context


def _remember(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    ctx.meta[_META] = value


def progress_option(func: Any) -> Any:
    """``--progress``: progress on stderr even when it is not a terminal."""
    return click.option(
        "--progress", is_flag=True, expose_value=False, callback=_remember,
        help="Show progress on stderr (rows, rows/s, elapsed, % and time left) even when "
             "it is not a terminal.")(func)


def progress_for(files: tuple[str, ...], forced: bool | None = None,
                 stream: TextIO | None = None) -> Wrap | None:
    """The progress wrapper for reading ``files``, or None when none is shown
    (``forced`` None: as ``--progress`` says, when a command is running)."""
    if forced is None:
        ctx = click.get_current_context(silent=True)
        forced = bool(ctx is not None and ctx.meta.get(_META))
    out = stream if stream is not None else sys.stderr
    tty = _isatty(out)
    if not forced and (not tty or sum(_size(f) for f in files) < PROGRESS_BYTES):
        return None

    def wrap(rows: Iterator[InputRow]) -> Iterator[InputRow]:
        return Progress(out, tty, count_rows(files)).follow(rows)

    return wrap


class Progress:
    """Counts rows as they pass and writes the progress line."""

    def __init__(self, stream: TextIO, tty: bool, total: int | None) -> None:
        self.stream = stream
        self.tty = tty
        self.total = total
        self.every = TTY_EVERY if tty else LOG_EVERY
        self.start = time.monotonic()
        self._width = 0

    def follow(self, rows: Iterator[InputRow]) -> Iterator[InputRow]:
        """Yield every row, writing the line now and then, and at the end."""
        n = 0
        next_at = self.start + self.every
        try:
            for n, row in enumerate(rows, 1):
                if not n % CHECK_EVERY and time.monotonic() >= next_at:
                    self.show(n)
                    next_at = time.monotonic() + self.every
                yield row
        finally:
            self.end(n)

    def line(self, n: int, now: float | None = None) -> str:
        """``N rows  R rows/s  H:MM:SS elapsed[  P%  H:MM:SS left]``."""
        elapsed = max((now if now is not None else time.monotonic()) - self.start, 1e-9)
        rate = n / elapsed
        text = f"{n:,} rows  {rate:,.0f} rows/s  {_clock(elapsed)} elapsed"
        if self.total:
            done = min(n / self.total, 1.0)
            text += f"  {done:.0%}"
            if rate > 0 and n < self.total:
                text += f"  {_clock((self.total - n) / rate)} left"
        return text

    def show(self, n: int) -> None:
        """Write the line (in place on a terminal)."""
        text = self.line(n)
        if self.tty:
            pad = " " * max(self._width - len(text), 0)
            self._width = len(text)
            self._write("\r" + text + pad)
        else:
            self._write(text + "\n")

    def end(self, n: int) -> None:
        """The last word: cleared on a terminal, a closing line elsewhere."""
        if self.tty:
            if self._width:
                self._write("\r" + " " * self._width + "\r")
            return
        self._write(self.line(n).split("  left")[0] + " (done)\n")

    def _write(self, text: str) -> None:
        with suppress(OSError, ValueError):  # a closed stderr must not stop the run
            self.stream.write(text)
            self.stream.flush()


def count_rows(files: tuple[str, ...]) -> int | None:
    """The rows the files hold, counted up front (lines; a CSV header and blank JSON
    Lines are not rows; Parquet from its metadata); None when some file cannot be
    counted (the line then shows no percentage)."""
    total = 0
    for name in files:
        count = _rows_of(name)
        if count is None:
            return None
        total += count
    return total


def _rows_of(argument: str) -> int | None:
    name = split_source(argument)[0]  # FILE::IMPORT names the file
    lower = name.lower()
    if lower.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

            return int(pq.ParquetFile(name).metadata.num_rows)
        except Exception:  # noqa: BLE001 (no percentage rather than no run)
            return None
    try:
        lines = blank = 0
        last = b"\n"
        with open(name, "rb") as stream:
            while chunk := stream.read(CHUNK):
                lines += chunk.count(b"\n")
                blank += chunk.count(b"\n\n")
                last = chunk[-1:]
    except OSError:
        return None
    lines += last != b"\n"  # a last line without its newline
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return max(lines - blank, 0)
    return max(lines - 1, 0)  # the CSV header


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _size(path: str) -> int:
    try:
        return os.path.getsize(split_source(path)[0])
    except OSError:
        return 0
