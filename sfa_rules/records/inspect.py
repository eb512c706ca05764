"""``sfa inspect``: what the columns of an export seem to hold (SPEC §16).

``profile(path, config, canonical)`` reads a file (its first :data:`SCAN_ROWS` rows)
and gives, per column: the kind of values it holds (``text``, ``number``, ``date``
with the strptime format guessed, ``empty``), its empty share, the canonical field it
would map to (by the aliases of ``settings.fields``, by name, ``<type>_id`` as the
id), and for the mapped enumerations (``status``, fields of ``settings.domains``) the
values the configuration does not know, with counts and did-you-means. The proposal
of an ``imports:`` entry is :mod:`sfa_rules.records.proposal`.

How a date format is guessed: of the usual formats (:data:`DATE_FORMATS`), those that
read at least 90% of the column's values; of those, the one whose dates span the
fewest days (an export's dates cluster in a few years: ``20-10-16`` is 2016-10-20 as
``%d-%m-%y`` but 2020-10-16 as ``%y-%m-%d``, and the whole column decides), then the
one listed first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as _default
from datetime import datetime
from pathlib import Path
from typing import Any

from sfa_rules.config.models import Config
from sfa_rules.config.recordtypes import normalise_type
from sfa_rules.errors import did_you_mean
from sfa_rules.records.csvrecords import CsvRecords
from sfa_rules.records.inputs import text_encoding
from sfa_rules.records.numbers import NumberFormat
from sfa_rules.records.readers import FORMATS, csv_delimiter, read

__all__ = ["DATE_FORMATS", "SCAN_ROWS", "ColumnProfile", "FileProfile", "profile"]

SCAN_ROWS = 200_000
DISTINCT_LIMIT = 2_000  # distinct values kept per column
SHARE = 0.9  # a kind holds when it reads this share of the values
DATE_FORMATS = (
    "%Y-%m-%d", "%d-%m-%y", "%d-%m-%Y", "%m-%d-%y", "%m-%d-%Y", "%y-%m-%d",
    "%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y", "%m/%d/%y", "%Y/%m/%d",
    "%d.%m.%Y", "%d.%m.%y", "%d %b %Y", "%d-%b-%y", "%d-%b-%Y", "%b %d, %Y",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M",
)
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NUMBER_FORMATS = {".": NumberFormat("."), ",": NumberFormat(",")}
CUSTOMER_WORDS = ("account", "customer", "compan", "client")
CREATED_WORDS = ("creat", "engage", "open", "start", "since", "signup", "sign_up")


@dataclass
class ColumnProfile:
    """What one column seems to hold."""

    name: str
    present: int = 0  # non-empty values seen
    values: Counter[str] = _default(default_factory=Counter)  # the first DISTINCT_LIMIT
    kind: str = "empty"  # text | number | date | empty
    date_format: str | None = None
    also: tuple[str, ...] = ()  # other formats that read the dates as well
    mixed: tuple[tuple[str, int], ...] = ()  # text: dates in several formats, values each
    unread: int = 0  # values the kind does not read
    decimal: str = "."  # for numbers
    plain: bool = True  # every number is plain (no thousands, no currency)
    field: str | None = None  # the canonical field it would map to
    how: str = ""  # alias | name | why it is the id
    unknown: list[tuple[str, int, str]] = _default(default_factory=list)  # value, count, hint

    def empty_share(self, rows: int) -> float:
        return 1.0 if rows == 0 else 1 - self.present / rows


@dataclass
class FileProfile:
    """A file's columns and rows, and the record type it seems to hold."""

    source: str
    rows: int
    columns: list[ColumnProfile]
    type: str | None
    truncated: bool = False
    row_types: tuple[str, ...] = ()  # what its own `type` column names, when several


def _columns(path: Path) -> list[str]:
    """A CSV file's header (its columns that are always blank included)."""
    if FORMATS.get(path.suffix.lower()) != "csv":
        return []
    with open(path, encoding=text_encoding(path), errors="replace", newline="") as fh:
        for header, _, _, _ in CsvRecords(fh, delimiter=csv_delimiter(path)):
            if header:
                return [h.strip() for h in header if h.strip()]
    return []


def _scan(source: str) -> tuple[dict[str, ColumnProfile], int, bool]:
    columns = {name: ColumnProfile(name) for name in _columns(Path(source))}
    rows = 0
    for row in read([source], type_override="lead"):
        if rows >= SCAN_ROWS:
            return columns, rows, True
        rows += 1
        for key, value in (row.record or {}).items():
            text = value if isinstance(value, str) else str(value)
            if not text.strip():
                continue
            col = columns.get(key)
            if col is None:
                col = columns[key] = ColumnProfile(str(key))
            col.present += 1
            if text in col.values or len(col.values) < DISTINCT_LIMIT:
                col.values[text] += 1
    return columns, rows, False


def _guess_date(col: ColumnProfile) -> None:
    best: list[tuple[int, int, str]] = []  # (span in days, order, format)
    total = sum(col.values.values())
    sample = [t for t, _ in col.values.most_common(50)]
    some: list[str] = []  # formats that read part of the sample
    for order, fmt in enumerate(DATE_FORMATS):
        share = sum(_reads(t, fmt) for t in sample)
        if share:
            some.append(fmt)
        if share < SHARE * len(sample):
            continue  # most columns are no dates: a sample says so quickly
        days, read_count = [], 0
        for text, count in col.values.items():
            try:
                days.append(datetime.strptime(text.strip(), fmt).toordinal())
            except ValueError:
                continue
            read_count += count
        if days and read_count >= SHARE * total:
            best.append((max(days) - min(days), order, fmt))
    if best:
        best.sort()
        col.kind, col.date_format = "date", best[0][2]
        col.also = tuple(f for span, _, f in best[1:] if span == best[0][0])
        col.unread = total - sum(c for t, c in col.values.items() if _reads(t, best[0][2]))
    elif len(some) > 1:
        col.mixed = _cover(col.values, some, total)


def _cover(values: Counter[str], formats: list[str], total: int
           ) -> tuple[tuple[str, int], ...]:
    """The fewest formats, most values first, that together read the share of dates
    :data:`SHARE` of ``values`` (an export that changed its date format midway), each
    with the values it reads that the ones before did not; () when none do."""
    left = {t: c for t, c in values.items()}
    found: list[tuple[str, int]] = []
    while left and sum(n for _, n in found) < SHARE * total:
        reads = {f: [t for t in left if _reads(t, f)] for f in formats}
        fmt = max(formats, key=lambda f: sum(left[t] for t in reads[f]))
        count = sum(left.pop(t) for t in reads[fmt])
        if not count:
            return ()
        found.append((fmt, count))
    return tuple(found) if len(found) > 1 else ()


def _reads(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text.strip(), fmt)
    except ValueError:
        return False
    return True


def _guess_kind(col: ColumnProfile) -> None:
    total = sum(col.values.values())
    if not total:
        return
    for decimal, numbers in _NUMBER_FORMATS.items():
        read_count = sum(c for t, c in col.values.items() if numbers.read(t) is not None)
        if read_count >= SHARE * total:
            col.kind, col.decimal, col.unread = "number", decimal, total - read_count
            col.plain = all(_PLAIN_NUMBER.fullmatch(t.strip()) for t in col.values)
            # digits only could be dates too (20170301); numbers win
            return
    _guess_date(col)
    if col.kind == "empty":
        col.kind = "text"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _map(col: ColumnProfile, canonical: Callable[[str], str], known: set[str],
         rtype: str | None) -> None:
    folded = col.name.strip().lower()
    target = canonical(col.name)
    if target != folded:
        col.field, col.how = target, "alias"
    elif _slug(col.name) in known:
        col.field, col.how = _slug(col.name), "name"
    elif rtype is not None and _slug(col.name) in (f"{rtype}_id", f"{rtype}id"):
        col.field, col.how = "id", f"{rtype}_id: the id"


def _created(columns: Iterable[ColumnProfile]) -> None:
    """The one unmapped date column whose name says when the record began (``engage_date``,
    ``Date Opened``) is its ``created`` date."""
    dated = [c for c in columns if c.field is None and c.kind == "date"
             and any(word in _slug(c.name) for word in CREATED_WORDS)]
    if len(dated) == 1:
        dated[0].field, dated[0].how = "created", "a date of its start, by name"


def _file_type(source: str, fields: set[str]) -> str | None:
    stem = Path(source).name.split(".")[0]
    named = normalise_type(stem)
    if named is not None:
        return named
    if "expected_close" in fields or {"customer", "amount"} <= fields:
        return "opportunity"
    if any(word in stem.lower() for word in CUSTOMER_WORDS):
        return "customer"
    if "lead" in stem.lower():
        return "lead"
    return None


def _row_types(columns: Iterable[ColumnProfile]) -> list[str]:
    """The record types a file's own ``type`` column names, sorted: a row's non-blank
    ``type`` wins over the import's and the file name's."""
    return sorted({t for c in columns if c.field == "type" for v in c.values
                   if (t := normalise_type(v)) is not None})


def _unknown_values(col: ColumnProfile, config: Config, rtype: str | None) -> None:
    """The values of an enumeration the configuration does not know."""
    if col.field == "status":
        if rtype == "opportunity":
            known = [o.id for o in config.opportunity_statuses]
        elif rtype in ("lead", "prospect", "customer"):
            known = [s.id for s in config.statuses]
        else:
            known = [o.id for o in config.opportunity_statuses] + [s.id for s in config.statuses]
    elif col.field is not None and col.field in config.settings.domains:
        known = list(config.settings.domains[col.field])
    else:
        return
    folded = {k.strip().casefold() for k in known}
    for value, count in col.values.most_common():
        if value.strip().casefold() not in folded:
            col.unknown.append((value, count, did_you_mean(value.strip(), known)))


def profile(source: str, config: Config, canonical: Callable[[str], str],
            known: set[str]) -> FileProfile:
    """The profile of one file (see the module docstring); ``known`` are the field names
    the configuration knows (``criteria.vocabulary.known_fields``, folded)."""
    columns, rows, truncated = _scan(source)
    stem_type = normalise_type(Path(source).name.split(".")[0])
    for col in columns.values():
        _guess_kind(col)
        _map(col, canonical, known, stem_type)
    fields = {c.field for c in columns.values() if c.field}
    rtype = _file_type(source, fields)
    by_field: dict[str, list[ColumnProfile]] = {}
    for col in columns.values():
        if col.field is None and rtype is not None:
            _map(col, canonical, known, rtype)
        if col.field is not None:
            by_field.setdefault(col.field, []).append(col)
    if rtype in ("lead", "prospect", "customer") and "id" not in by_field \
            and len(by_field.get("customer", ())) == 1:
        col = by_field.pop("customer")[0]  # a customer file: its customer column is its id
        col.field, col.how = "id", "a customer file's own id, not its alias customer"
    if "created" not in by_field:
        _created(columns.values())
    named = _row_types(columns.values())
    if named and rtype is not None and any(  # a blank type cell: the file's own type
            c.field == "type" and c.present < rows for c in columns.values()):
        named = sorted({*named, rtype})
    if len(named) == 1:
        rtype = named[0]
    elif named:  # several types: a status is known when either kind knows it
        rtype = None
    for col in columns.values():
        _unknown_values(col, config, rtype)
    return FileProfile(source, rows, list(columns.values()), rtype, truncated,
                       tuple(named) if len(named) > 1 else ())


def describe(col: ColumnProfile) -> str:
    """``date (%d-%m-%y)``, ``number``, ``text``: the kind as the profile prints it."""
    if col.kind == "date":
        also = f"; also {', '.join(col.also)}" if col.also else ""
        return f"date ({col.date_format}{also})"
    if col.kind == "number" and col.decimal == ",":
        return "number (decimal ',')"
    if col.mixed:
        return f"text (dates: {', '.join(fmt for fmt, _ in col.mixed)})"
    return col.kind


def first_values(col: ColumnProfile, n: int = 3) -> list[Any]:
    """A few of the column's most common values, for the profile."""
    return [v for v, _ in col.values.most_common(n)]
