"""Imports applied to rows (SPEC §16): an export's columns, values and formats, read.

``Imports(config, schema)`` compiles a configuration's ``imports:`` once and picks the
import of each input file: the one named for it (``FILE::ID``), else the one named for
every file (``--import ID``), else the first whose ``files`` globs match the file's base
name (case-insensitive), else none (the file reads as in SPEC §8). ``CompiledImport``
then rewrites each row of its file:

- the record type: a non-blank ``type`` column of the file wins; else the import's
  ``type`` (one type, or a column through a value map); else ``--type`` / the file name;
- mapped columns (matched ignoring case and surrounding blanks) are read under their
  canonical name only, ahead of the columns that pass through, so that a mapped value
  wins over a column that an alias of ``settings.fields`` would give the same name; a
  dotted column (``org.address.country``) also reaches into a JSON line's nested
  objects when the record has no column of that very name;
- ``values`` maps a raw value (ignoring case and surrounding blanks) before anything
  else sees it; a value mapped to ``""`` leaves the field empty (absent);
- date fields (``created``, ``expected_close``, ``date``, fields criteria compare as
  dates, fields with their own ``format``) are read with the format and handed on as
  ``YYYY-MM-DD``; a value that does not parse makes the row a ``bad-date`` error
  (a row's own ``date``, an activity's, may also be ISO already);
- number fields (``amount``, ``probability``, ``employees``, fields criteria compare
  as numbers) become plain decimal text as ``numbers`` says (default: decimal ``.``,
  thousands ``,``); an unreadable ``amount`` is a ``bad-amount`` error, any other
  unreadable number passes as written (the engine then warns, or refuses a
  probability, as without an import).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import PurePath
from typing import Any

from sfa_rules.config.dateformats import example
from sfa_rules.config.dateformats import parse as parse_date
from sfa_rules.config.imports import FieldMap, Import, TypeColumn
from sfa_rules.config.models import Config
from sfa_rules.config.recordtypes import TYPE_NAMES, normalise_type
from sfa_rules.criteria.facts import parse_iso_date
from sfa_rules.engine.core import Engine
from sfa_rules.engine.rows import InputRow
from sfa_rules.errors import RecordError, did_you_mean
from sfa_rules.records.numbers import NumberFormat
from sfa_rules.records.readers import InputError, read

__all__ = ["DATE_FIELDS", "NUMBER_FIELDS", "CompiledImport", "Imports", "split_source"]

DATE_FIELDS = ("created", "expected_close", "date")
NUMBER_FIELDS = ("amount", "probability", "employees")
SEPARATOR = "::"
_SHAPES_LIMIT = 1_000
_DATES_LIMIT = 20_000


def split_source(argument: str) -> tuple[str, str | None]:
    """``("sales.csv", "crm-pipeline")`` for ``sales.csv::crm-pipeline``; no ``::`` (or a
    file whose own name has one): None."""
    path, sep, import_id = argument.rpartition(SEPARATOR)
    if not sep or os.path.isfile(argument):
        return argument, None
    return path, import_id.strip()


def _fold(text: str) -> str:
    """A column name or value as imports match it: trimmed, case folded, and composed
    (NFC: a macOS export writes "ä" as "a" and a combining mark; a rule file, as one)."""
    folded = text.strip().casefold()
    return folded if folded.isascii() else unicodedata.normalize("NFC", folded)


class _Reading:
    """How one canonical field of a file is read: value map, date format, number."""

    __slots__ = ("_dates", "amount", "date_format", "field", "numbers", "values")

    def __init__(self, field: str, values: Mapping[str, str] | None, date_format: str | None,
                 numbers: NumberFormat | None) -> None:
        self.field = field
        self.values = {_fold(k): v for k, v in (values or {}).items()} or None
        self.date_format = date_format
        self.numbers = numbers
        self.amount = field == "amount"
        self._dates: dict[str, str | None] = {}

    def read(self, value: Any) -> tuple[Any, RecordError | None]:
        """The value the engine sees, or the row's error."""
        if not isinstance(value, str) or not value.strip():
            return value, None  # blank is absent (JSON Lines): nothing to read
        if self.values is not None:
            value = self.values.get(_fold(value), value)
            if not value.strip():
                return None, None
        if self.date_format is not None:
            return self._date(value)
        if self.numbers is not None:
            text = value.strip().removesuffix("%") if self.field == "probability" else value
            number = self.numbers.read(text)
            if number is not None:
                return number, None
            if self.amount:
                return value, RecordError(
                    "bad-amount", f"amount {value!r} is not a number written with "
                    f"{self.numbers.describe()}", field="amount")
        return value, None

    def _date(self, value: str) -> tuple[Any, RecordError | None]:
        found = self._dates.get(value, "")
        if found == "":
            found = parse_date(value, self.date_format or "")
            if found is None and self.field == "date":  # an activity's: ISO or the format
                found = parse_iso_date(value.strip())
            if len(self._dates) >= _DATES_LIMIT:
                self._dates.clear()
            self._dates[value] = found
        if found is not None:
            return found, None
        fmt = self.date_format or ""
        return value, RecordError(
            "bad-date", f"{self.field} {value!r} is not a date in the format {fmt!r} "
            f"(such as {example(fmt)!r})", field=self.field)


class CompiledImport:
    """One import, compiled for the rows of its files."""

    def __init__(self, imp: Import, canonical: Callable[[str], str], dates: Iterable[str],
                 numbers: Iterable[str], type_keys: Iterable[str]) -> None:
        self.id = imp.id
        self.static_type = normalise_type(imp.type) if isinstance(imp.type, str) else None
        self._type_column: TypeColumn | None = imp.type if isinstance(imp.type, TypeColumn) \
            else None
        self._type_values = {_fold(k): v for k, v in self._type_column.values.items()} \
            if self._type_column else {}
        self._own_type = _fold(self._type_column.column) if self._type_column else None
        self._type_keys = frozenset(_fold(k) for k in type_keys)
        self._canonical = canonical
        self._dates = frozenset(dates)
        self._numbers = frozenset(numbers)
        self._date_format = imp.date_format
        self._number_format = NumberFormat(imp.numbers.decimal, imp.numbers.thousands)
        # folded column -> the canonical fields it is read as, with their readings
        self._mapped: dict[str, list[tuple[str, _Reading | None]]] = {}
        self._written: dict[str, list[str]] = {}  # each mapped column as written -> fields
        for name, spec in imp.fields.items():
            column = spec if isinstance(spec, str) else spec.column
            self._written.setdefault(column.strip(), []).append(name)
            field = canonical(name)
            reading = self._reading(field, spec if isinstance(spec, FieldMap) else None)
            self._mapped.setdefault(_fold(column), []).append((field, reading))
        # dotted columns, by their folded parts: also looked for inside nested objects
        self._nested = [(tuple(column.split(".")), targets)
                        for column, targets in self._mapped.items() if "." in column]
        self._passing: dict[str, _Reading | None] = {}  # passing column -> its reading
        self._shapes: dict[tuple[Any, ...], list[tuple[Any, str, _Reading | None]]] = {}

    def _reading(self, field: str, spec: FieldMap | None) -> _Reading | None:
        """How ``field`` reads, or None when it passes as it is."""
        values = spec.values if spec is not None else None
        fmt = spec.format if spec is not None and spec.format else None
        if fmt is None and field in self._dates:
            fmt = self._date_format
        numbers = self._number_format if field in self._numbers else None
        if not values and fmt is None and numbers is None:
            return None
        return _Reading(field, values, fmt, numbers)

    def _plan(self, shape: tuple[Any, ...]) -> list[tuple[Any, str, _Reading | None]]:
        """(key, name it gets, reading) for the keys of a record: mapped ones first."""
        mapped: list[tuple[Any, str, _Reading | None]] = []
        passing: list[tuple[Any, str, _Reading | None]] = []
        for key in shape:
            targets = self._mapped.get(_fold(key)) if isinstance(key, str) else None
            if targets:
                mapped.extend((key, field, reading) for field, reading in targets)
                continue
            if key not in self._passing:
                if len(self._passing) >= _SHAPES_LIMIT * 10:  # ever-new keys: stay bounded
                    self._passing.clear()
                name = self._canonical(key) if isinstance(key, str) else ""
                self._passing[key] = self._reading(name, None) if name else None
            passing.append((key, key, self._passing[key]))
        return mapped + passing

    def apply(self, row: InputRow) -> InputRow:
        """The row as the import reads it (its type, names, values, dates, numbers)."""
        raw = row.record
        if raw is None:
            return row
        shape = tuple(raw)
        plan = self._shapes.get(shape)
        if plan is None:
            if len(self._shapes) >= _SHAPES_LIMIT:
                self._shapes.clear()
            plan = self._shapes[shape] = self._plan(shape)
        record: dict[str, Any] = {}
        error, untyped = row.error, None
        if error is not None and error.code == "unknown-type" and self._type_column is not None:
            untyped, error = error, None  # the import's type column may give the type yet
        for key, name, reading in plan:
            value = raw[key]
            if reading is not None:
                value, problem = reading.read(value)
                if problem is not None and error is None:
                    error = problem
                if value is None:
                    continue
            if name not in record:
                record[name] = value
        if self._nested:
            error = self._read_nested(raw, record, error)
        rtype = row.type
        if self._type_column is not None and not self._has_type(raw):
            rtype, error = self._column_type(raw, rtype, error or untyped)
        elif untyped is not None:  # the row's own type column: the reader's word stands
            error = untyped
        return InputRow(row.source, row.row, rtype, record, error)

    def _read_nested(self, raw: Mapping[str, Any], record: dict[str, Any],
                     error: RecordError | None) -> RecordError | None:
        """The dotted columns' values found in nested objects, for fields still unset."""
        for parts, targets in self._nested:
            value: Any = raw
            for part in parts:
                inner = value if isinstance(value, Mapping) else {}
                value = next((v for k, v in inner.items()
                              if isinstance(k, str) and _fold(k) == part), None)
            if value is None or isinstance(value, Mapping):
                continue
            for field, reading in targets:
                got, problem = reading.read(value) if reading is not None else (value, None)
                error = error or problem
                if got is not None and field not in record:
                    record[field] = got
        return error

    def _has_type(self, raw: Mapping[str, Any]) -> bool:
        """Whether the row has a type column of its own, not the import's (a column
        named `Type` that the import maps through its values is the import's)."""
        own = self._own_type
        return any(isinstance(k, str) and _fold(k) in self._type_keys and _fold(k) != own
                   and not (isinstance(v, str) and not v.strip()) and v is not None
                   for k, v in raw.items())

    def _column_type(self, raw: Mapping[str, Any], rtype: str | None,
                     error: RecordError | None) -> tuple[str | None, RecordError | None]:
        """The type of a row without a type column, from the import's type column."""
        assert self._type_column is not None
        want = self._own_type
        value = next((v for k, v in raw.items() if isinstance(k, str) and _fold(k) == want),
                     None)
        if value is None or not str(value).strip():
            if rtype is None and error is not None and error.code == "unknown-type":
                return None, RecordError(
                    "unknown-type", f"no record type: column {self._type_column.column!r}, "
                    f"which the import '{self.id}' reads the type from, is blank in this row, "
                    "no --type was given, and the file name does not name one", field="type")
            return rtype, error  # --type or the file name, as the reader found
        written = self._type_values.get(_fold(str(value)), str(value))
        found = normalise_type(written)
        if error is not None and error.code != "unknown-type":
            return found, error
        if found is None:
            hint = did_you_mean(written.strip().lower(), TYPE_NAMES)
            return None, RecordError(
                "unknown-type", f"unknown record type {written!r} in column "
                f"{self._type_column.column!r}{hint}", field="type")
        return found, None

    def rows(self, rows: Iterable[InputRow],
             columns: Sequence[str] | None = None) -> Iterator[InputRow]:
        """``apply`` to every row, lazily; with the file's ``columns`` (a CSV header),
        each row also warns of the mapped columns the file lacks."""
        apply = self.apply
        missing = self.missing(columns) if columns is not None else None
        if missing is None:
            for row in rows:
                yield apply(row)
            return
        for row in rows:
            row = apply(row)
            yield row._replace(warnings=(*row.warnings, missing))

    def missing(self, columns: Sequence[str]) -> str | None:
        """The ``missing-column`` warning of a file with these columns, or None."""
        have = {_fold(c) for c in columns}
        lacking = [(column, fields) for column, fields in self._written.items()
                   if _fold(column) not in have]
        if not lacking:
            return None
        said = "; ".join(f"{', '.join(fields)} from column {column!r}"
                         for column, fields in lacking)
        return (f"missing-column: the import '{self.id}' reads {said}, which the file does "
                "not have: check the column's name in its header")


class Imports:
    """A configuration's imports, compiled; ``for_file`` picks the one of a file."""

    def __init__(self, config: Config, canonical: Callable[[str], str],
                 dates: Iterable[str] = (), numbers: Iterable[str] = ()) -> None:
        self._config = config.imports
        self._aliases = config.settings.fields
        type_keys = ("type", *(config.settings.fields.get("type") or ()))
        date_fields = {canonical(f) for f in (*DATE_FIELDS, *dates)}
        number_fields = {canonical(f) for f in (*NUMBER_FIELDS, *numbers)}
        self._compiled = {
            imp.id: CompiledImport(imp, canonical, date_fields, number_fields, type_keys)
            for imp in reversed(config.imports)  # a repeated id: the first one
        }

    @classmethod
    def of(cls, engine: Engine) -> Imports:
        """The imports of an engine's configuration, with its aliases and the fields
        its criteria compare as dates and numbers."""
        schema = engine.ctx.schema
        return cls(engine.config, schema.canonical, schema.dates, schema.numbers)

    def read(self, paths: Sequence[str], every: str | None = None,
             type_override: str | None = None) -> Iterator[InputRow]:
        """The rows of ``paths`` (``FILE::ID`` allowed) read through their imports, as
        ``session.process`` takes them; ``InputError`` for an unknown import id."""
        pairs = [split_source(p) for p in paths]
        chosen, unknown = self.plan(pairs, every)
        if unknown:
            raise InputError(unknown)
        return read([p for p, _ in pairs], type_override=type_override,
                    aliases=self._aliases, imports=chosen)

    @property
    def ids(self) -> list[str]:
        """The import ids, in configuration order."""
        return list(dict.fromkeys(imp.id for imp in self._config))

    def unknown(self, import_id: str, given: str) -> str:
        """The message for an import id the configuration does not have."""
        known = self.ids
        listed = f" (the configuration has: {', '.join(known)})" if known else \
            " (the configuration has no imports)"
        hint = did_you_mean(import_id, known)
        return f"{given}: unknown import {import_id!r}{hint or listed}"

    def get(self, import_id: str) -> CompiledImport | None:
        """The import with that id, or None."""
        return self._compiled.get(import_id)

    def match(self, source: str) -> CompiledImport | None:
        """The first import whose ``files`` match the file's base name."""
        name = PurePath(source).name.casefold()
        for imp in self._config:
            if any(fnmatchcase(name, pattern.strip().casefold()) for pattern in imp.files):
                return self._compiled[imp.id]
        return None

    def plan(self, sources: Sequence[tuple[str, str | None]],
             every: str | None = None) -> tuple[list[CompiledImport | None], list[str]]:
        """The import of each ``(file, FILE::ID or None)``, ``every`` being --import;
        and the messages for unknown ids (a usage error)."""
        problems: list[str] = []
        if every is not None and self.get(every) is None:
            problems.append(self.unknown(every, "--import"))
        chosen: list[CompiledImport | None] = []
        for source, import_id in sources:
            if import_id is not None:
                found = self.get(import_id)
                if found is None:
                    problems.append(self.unknown(import_id, f"{source}{SEPARATOR}{import_id}"))
                chosen.append(found)
            elif every is not None:
                chosen.append(self.get(every))
            else:
                chosen.append(self.match(source))
        return chosen, problems
