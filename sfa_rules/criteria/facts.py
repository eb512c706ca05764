"""Facts: the view of one record that compiled criteria read (SPEC §3).

A ``FactSchema`` is built once per configuration. It knows the canonical field names
(``settings.fields`` aliases), which fields any criteria use, and which of them are
compared as numbers or as dates. ``Facts(record, schema)`` then does the per-record
work once: canonical names, dotted names into nested mappings, empty == absent, case
and blank folding, and the number / date parses (one warning per bad value). Rows of
a file share their keys, so a plain dict is read by a function generated for its tuple
of keys once that tuple repeats (only ``repr`` of field names goes into the source;
keys are passed by name).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from sfa_rules.criteria.values import parse_amount

# Field names compare without case and surrounding blanks, always (SPEC §2).
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|[T ])")
# What may follow the date: a time of day (hours, minutes, seconds, a fraction), then
# anything that is not one more digit (a zone: ``Z``, ``+02:00``, `` UTC``).
_TIME = re.compile(r"(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?(?![\d:])")
_KEY_CACHE_LIMIT = 10_000  # records with ever-new keys must not grow the cache forever
# Fields the engine itself reads (the record's date and kept owner).
ENGINE_FIELDS = ("created", "owner")


_NUMBER, _DATE, _KEEP = 1, 2, 4
_VALUE_CACHE_LIMIT = 20_000  # parsed values kept per typed field
_SHAPE_CACHE_LIMIT = 1_000  # compiled fillers kept, one per tuple of record keys
_COMPILE_AFTER = 8  # a shape's rows read the general way before its filler is compiled
# What a typed field's text gives: (folded, trimmed, number, ISO date, warning); a
# column of dates or numbers repeats its values, so each is parsed once.
_Parsed = tuple[str, str, float | None, str | None, str | None]
# canonical name, _NUMBER|_DATE|_KEEP, nested prefix, the typed field's parsed values
_Spec = tuple[str | None, int, str | None, dict[str, _Parsed]]
_UNSEEN: Any = object()


def _shown(value: object) -> str:
    """The text of a non-string record value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _empty(value: object) -> bool:
    """A JSON object or list holding no value but blanks (SPEC §3: empty is absent)."""
    if isinstance(value, Mapping):
        return all(_empty(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_empty(v) for v in value)
    return value is None or (isinstance(value, str) and not value.strip())


def field_key(name: str) -> str:
    """The internal form of a field name: trimmed, lower case."""
    return name.strip().lower()


@lru_cache(maxsize=4096)  # an export's rows share a few days: most are parsed already
def parse_iso_date(text: str) -> str | None:
    """``YYYY-MM-DD`` (optionally followed by a time) as an ISO date string, or None."""
    if not _ISO_DATE.match(text):
        return None
    if len(text) > 10 and not _valid_time(text[11:]):
        return None  # 2026-01-01T25:99 is no date
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def _valid_time(text: str) -> bool:
    """``text`` starts with a real time of day (``23:59:59`` at most)."""
    match = _TIME.match(text)
    if match is None:
        return False
    hour, minute, second = (int(part or 0) for part in match.groups())
    return hour <= 23 and minute <= 59 and second <= 59


def is_number(value: object) -> bool:
    """A YAML/JSON number (booleans are not numbers; neither are inf and nan)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (type(value) is int or math.isfinite(value)))


class FactSchema:
    """Per-configuration knowledge that makes building ``Facts`` cheap.

    ``aliases`` maps canonical names to the names they may have in records;
    ``fields`` are the canonical names anything reads; ``numbers`` / ``dates`` the
    fields some numeric / date comparison uses.
    """

    def __init__(
        self,
        aliases: Mapping[str, Iterable[str]] | None = None,
        fields: Iterable[str] = (),
        numbers: Iterable[str] = (),
        dates: Iterable[str] = (),
        case_sensitive: bool = False,
        kept: Iterable[str] = (),
    ) -> None:
        self.case_sensitive = case_sensitive
        self._names: dict[str, str] = {}  # folded incoming name -> canonical
        for canonical, names in (aliases or {}).items():
            key = field_key(canonical)
            self._names[key] = key
            for name in names:
                self._names[field_key(name)] = key
        self.fields = frozenset(self.canonical(f) for f in (*fields, *ENGINE_FIELDS))
        # Fields whose text as written (trimmed, not folded) facts keep in ``original``:
        # the engine's own, and those a regex reads.
        self.kept = frozenset(self.canonical(f) for f in (*kept, *ENGINE_FIELDS))
        self.numbers = frozenset(self.canonical(f) for f in numbers)
        self.dates = frozenset(self.canonical(f) for f in (*dates, "created"))
        # Names of nested objects some dotted field reads into ("address", "customer").
        self._parents = frozenset(
            ".".join(parts[:i]) for f in self.fields if "." in f
            for parts in [f.split(".")] for i in range(1, len(parts))
        )
        self._fold = not case_sensitive
        # raw record key -> what to do with it; rows of one file share their keys, so
        # after the first row this is one dict lookup per key.
        self._keys: dict[str, _Spec | None] = {}
        self._fillers: dict[tuple[Any, ...], Callable[[Facts, dict[Any, Any]], None]] = {}
        self._shapes_seen: dict[int, int] = {}  # hash of a shape not compiled yet -> rows

    def canonical(self, name: str) -> str:
        """The canonical internal name of a field as written anywhere."""
        key = field_key(name)
        return self._names.get(key, key)

    def written(self, record: Mapping[str, Any], name: str, prefix: str = "") -> object:
        """The value ``record`` holds for the canonical field ``name`` as it wrote it
        (text trimmed, not folded; numbers and booleans as they are; the last non-empty
        one, as ``fill`` reads it), None when it has none: what traces show. Not for the
        per-record path: it walks the keys."""
        found: object = None
        for raw, value in record.items():
            full = prefix + field_key(str(raw))
            if isinstance(value, Mapping):
                if name.startswith(full + "."):
                    inner = self.written(value, name, full + ".")
                    found = found if inner is None else inner
            elif value is not None and self.canonical(full) == name:
                shown = value if isinstance(value, (int, float)) else (
                    value.strip() if isinstance(value, str) else _shown(value))
                found = found if shown == "" else shown
        return found

    def _learn(self, cache_key: str, raw: object, prefix: str) -> _Spec | None:
        if len(self._keys) >= _KEY_CACHE_LIMIT:
            self._keys.clear()
        full = prefix + field_key(str(raw))
        name = self.canonical(full)
        field = name if name in self.fields else None
        kind = 0
        if field is not None:
            kind = (
                (_NUMBER if field in self.numbers else 0)
                | (_DATE if field in self.dates else 0)
                | (_KEEP if field in self.kept else 0)
            )
        nested = full + "." if full in self._parents else None
        spec: _Spec | None = None if field is None and nested is None else (field, kind, nested, {})
        self._keys[cache_key] = spec
        return spec

    def fill(self, facts: Facts, record: Mapping[str, Any]) -> None:
        """Put ``record`` into ``facts``. A plain dict whose tuple of keys repeats is
        filled by a function compiled for that shape: rows of one file share a few
        shapes, and the function reads only the fields something uses, with the common
        text case inline."""
        if type(record) is not dict:
            self._fill(facts, record, "")
            return
        shape = tuple(record)
        filler = self._fillers.get(shape)
        if filler is None:
            # Compiling costs about as much as a hundred rows: only for shapes that
            # repeat (a feed whose every row has other keys stays on the general way).
            # Counted by hash: wide rows keep no tuple, and a collision only compiles early.
            key = hash(shape)
            seen = self._shapes_seen.get(key, 0) + 1
            if seen < _COMPILE_AFTER:
                if len(self._shapes_seen) >= _SHAPE_CACHE_LIMIT:
                    self._shapes_seen.clear()
                self._shapes_seen[key] = seen
                self._fill(facts, record, "")
                return
            self._shapes_seen.pop(key, None)
            filler = self._compile(shape)
        filler(facts, record)

    def _compile(self, shape: tuple[Any, ...]) -> Callable[[Facts, dict[Any, Any]], None]:
        if len(self._fillers) >= _SHAPE_CACHE_LIMIT:  # ever-new shapes: stay bounded
            self._fillers.clear()
        env: dict[str, Any] = {"one": self._one, "parse": self._parse}
        body = ["def fill(facts, r):", "    text = facts.text"]
        for i, raw in enumerate(shape):
            spec = self._keys.get(raw, _UNSEEN)
            if spec is _UNSEEN:
                spec = self._learn(raw, raw, "")
            if spec is None:
                continue  # a field nothing reads
            name, kind, nested, parsed = spec
            env[f"k{i}"], env[f"s{i}"], env[f"p{i}"] = raw, spec, parsed
            body.append(f"    v = r[k{i}]")
            if name is None or nested is not None:  # nested objects: the general way
                body.append(f"    if v is not None: one(facts, s{i}, v)")
                continue
            body.append("    if type(v) is str:")
            if kind:  # a typed field: its text parsed once per distinct value
                body += [line for line in (
                    f"        hit = p{i}.get(v)",
                    f"        if hit is None: hit = parse(p{i}, {name!r}, {kind}, v)",
                    "        if hit[1]:",  # empty is absent; else what `_put` does
                    f"            text[{name!r}] = hit[0]",
                    f"            if hit[2] is not None: facts.num[{name!r}] = hit[2]"
                    if kind & _NUMBER else "",
                    f"            facts.original[{name!r}] = hit[1]" if kind & _KEEP else "",
                    f"            if hit[3] is not None: facts.date[{name!r}] = hit[3]"
                    if kind & _DATE else "",
                    "            if hit[4] is not None: facts.warnings.append(hit[4])",
                ) if line]
            else:
                fold = ".lower()" if self._fold else ""
                body += ["        v = v.strip()", f"        if v: text[{name!r}] = v{fold}"]
            body.append(f"    elif v is not None: one(facts, s{i}, v)")
        exec(compile("\n".join(body), "<facts>", "exec"), env)  # noqa: S102 (names by repr)
        filler: Callable[[Facts, dict[Any, Any]], None] = env["fill"]
        self._fillers[shape] = filler
        return filler

    def _fill(self, facts: Facts, record: Mapping[str, Any], prefix: str) -> None:
        keys = self._keys
        for raw, value in record.items():
            cache_key = raw if not prefix else prefix + str(raw)
            spec = keys.get(cache_key, _UNSEEN)
            if spec is _UNSEEN:
                spec = self._learn(cache_key, raw, prefix)
            if spec is not None and value is not None:
                self._one(facts, spec, value)

    def _one(self, facts: Facts, spec: _Spec, value: object) -> None:
        """One field of a record (any value but None) into ``facts``."""
        name, kind, nested, parsed = spec
        if type(value) is str:
            if kind and name is not None:
                hit = parsed.get(value)
                if hit is None:
                    hit = self._parse(parsed, name, kind, value)
                if hit[1]:  # empty is absent
                    self._put(facts, name, kind, hit)
                return
            shown = value.strip()
        elif isinstance(value, Mapping):
            if nested is not None:  # dotted names reach into nested objects
                self._fill(facts, value, nested)
            if name is None or _empty(value):
                return
            shown = _shown(value)  # the object itself is present (`exists`)
        elif isinstance(value, (list, tuple)) and _empty(value):
            return  # [] (or only blanks) is empty: absent
        else:
            shown = _shown(value)
        if not shown or name is None:
            return  # empty is absent
        facts.text[name] = shown.lower() if self._fold else shown
        if kind:  # most fields are plain text: one test for them
            self._typed(facts, name, kind, value, shown)

    def _parse(self, parsed: dict[str, _Parsed], name: str, kind: int, value: str) -> _Parsed:
        """What the text of a typed field gives, cached for the rows that repeat it (the
        first warning only, as one field's text says one thing wrong)."""
        shown = value.strip()
        number, day, warnings = _typed_value(name, kind, value, shown) if shown else (None, None, ())
        warning = warnings[0] if warnings else None
        hit = (shown.lower() if self._fold else shown, shown, number, day, warning)
        if len(parsed) >= _VALUE_CACHE_LIMIT:
            parsed.clear()
        parsed[value] = hit
        return hit

    @staticmethod
    def _put(facts: Facts, name: str, kind: int, hit: _Parsed) -> None:
        folded, shown, number, day, warning = hit
        facts.text[name] = folded
        if number is not None:
            facts.num[name] = number
        if kind & _KEEP:
            facts.original[name] = shown
        if day is not None:
            facts.date[name] = day
        if warning is not None:
            facts.warnings.append(warning)

    def _typed(self, facts: Facts, name: str, kind: int, value: object, shown: str) -> None:
        number, day, warnings = _typed_value(name, kind, value, shown)
        if number is not None:
            facts.num[name] = number
        if kind & _KEEP:
            facts.original[name] = shown
        if day is not None:
            facts.date[name] = day
        facts.warnings.extend(warnings)


def _typed_value(name: str, kind: int, value: object, shown: str,
                 ) -> tuple[float | None, str | None, tuple[str, ...]]:
    """The number and the date a typed field's value (its text ``shown``) gives, and
    the warnings of what it does not give."""
    number: float | None = None
    day: str | None = None
    warnings: tuple[str, ...] = ()
    if kind & _NUMBER:
        if is_number(value):
            number = value  # type: ignore[assignment]
        else:
            number, warning = _number_of(name, shown)
            warnings = (warning,) if warning else ()
    if kind & _DATE:
        day = parse_iso_date(shown)
        if day is None:
            warnings += (f"{name}: '{shown}' is not a date (YYYY-MM-DD)",)
    return number, day, warnings


def read_number(shown: str) -> float | None:
    """The number a record's text says (trimmed), or None. Thousands grouped by ','
    read as an amount does ('1,500.25'), so a guard on ``amount`` and the forecast
    read one number. float() also reads '6_0' and other scripts' digits ('١٢'), which
    no export means as numbers; NaN never compares, and inf (or 1e999, read as inf) is
    no amount of anything."""
    if not shown.isascii() or "_" in shown:
        return None
    if "," in shown:
        grouped = parse_amount(shown)
        return None if grouped is None else float(grouped)
    try:
        number = float(shown)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _number_of(name: str, shown: str) -> tuple[float | None, str | None]:
    """The number a field's text says, or the warning that it says none."""
    number = read_number(shown)
    return (number, None) if number is not None else (None, f"{name}: '{shown}' is not a number")


class Facts:
    """One record as predicates read it.

    ``text``: canonical field -> folded text (absent when missing or empty);
    ``num`` / ``date``: the parsed values of the numeric / date fields that hold one;
    ``warnings``: one line per field whose value could not be parsed.
    """

    __slots__ = ("date", "num", "original", "record", "text", "warnings")

    def __init__(self, record: Mapping[str, Any], schema: FactSchema) -> None:
        self.text: dict[str, str] = {}
        self.num: dict[str, float] = {}
        self.date: dict[str, str] = {}
        self.warnings: list[str] = []
        self.original: dict[str, str] = {}  # unfolded: the engine's fields, regexes' fields
        self.record = record
        schema.fill(self, record)

    def raw(self, name: str) -> str | None:
        """The record's own text of an engine field (``owner``, ``created``): trimmed,
        not folded; None when absent or empty."""
        return self.original.get(field_key(name))
