"""The values the readers share: a checked input file, the type of its rows, the error
of a file that cannot be read (``readers`` reads CSV and JSON Lines, ``parquet``
Parquet)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfa_rules.engine.rows import PLURALS, RECORD_TYPES, TYPE_NAMES, normalise_type
from sfa_rules.errors import RecordError, did_you_mean

__all__ = ["FORMATS", "InputError", "InputFile", "TypeResolver", "fold", "text_encoding"]

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",  # tab-separated: the same reader, split on tabs
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
_CACHE_SIZE = 1024  # per file: bounds the spellings and keys remembered


class InputError(Exception):
    """Input files that cannot be read at all (a usage error: exit 2, before any row).

    ``problems`` holds one message per unusable file.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True)
class InputFile:
    """An input file checked by ``open_inputs``: its name as given, format and size."""

    source: str
    path: Path
    format: str  # a value of FORMATS
    size: int  # bytes, for progress reporting


class TypeResolver:
    """The record type of a row: its type column, else --type, else the file name.

    One per file; it remembers (boundedly) the spellings and keys it has seen.
    """

    def __init__(self, source: str, fallback: str | None, type_keys: frozenset[str]) -> None:
        self.source = source
        self.fallback = fallback
        self.type_keys = type_keys
        self._others: set[str] = set()  # keys known not to be the type column
        self._types: dict[str, str] = {}  # type column spellings seen -> type
        self._unknown: dict[str, str] = {}  # unknown spellings seen -> their message
        self._no_type = (
            f"no record type: the row has no 'type' value, no --type was given, and "
            f"the file name {Path(source).name!r} does not name one "
            f"({', '.join(PLURALS.get(t, t + 's') for t in RECORD_TYPES)})"
        )

    def key_of(self, keys: Iterable[str]) -> str | None:
        """The first key that names the type column (ignoring case and blanks)."""
        others = self._others
        for key in keys:
            if key in others:
                continue
            if fold(key) in self.type_keys:
                return key
            if len(others) < _CACHE_SIZE:  # JSON rows repeat their keys: fold each once
                others.add(key)
        return None

    def resolve(self, value: Any) -> tuple[str | None, RecordError | None]:
        """The type for a row whose type column holds ``value`` (None: no column)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.fallback is not None:
                return self.fallback, None
            return None, RecordError("unknown-type", self._no_type, "type")
        found = self._types.get(value) if isinstance(value, str) else None
        if found is None and isinstance(value, str):
            found = normalise_type(value)
            if found is not None and len(self._types) < _CACHE_SIZE:
                self._types[value] = found  # a column repeats a few spellings
        if found is not None:
            return found, None
        text = str(value).strip()
        message = self._unknown.get(text)
        if message is None:  # difflib is slow: a file of bad rows asks once per spelling
            message = f"unknown record type {text!r}{did_you_mean(text.lower(), TYPE_NAMES)}"
            if len(self._unknown) < _CACHE_SIZE:
                self._unknown[text] = message
        return None, RecordError("unknown-type", message, "type")


def fold(name: str) -> str:
    return name.strip().lower()


# Excel's "Unicode" exports are UTF-16 with a byte order mark: read them as they are
# (UTF-32's marks first: they begin with UTF-16's).
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
              (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def text_encoding(path: Path) -> str:
    """The codec a CSV or JSON Lines file is read with: UTF-8 (with or without its BOM),
    or UTF-16 or UTF-32 when the file starts with their byte order mark."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return next((codec for bom, codec in _WIDE_BOMS if head.startswith(bom)), "utf-8-sig")
