"""Facts: the view of one record that compiled criteria read (SPEC §3).

A ``FactSchema`` is built once per configuration. It knows the canonical field names
(``settings.fields`` aliases), which fields any criteria use, and which of them are
compared as numbers or as dates. ``Facts(record, schema)`` then does the per-record
work once: canonical names, dotted names into nested mappings, empty == absent, case
and blank folding, and the number / date parses (one warning per bad value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

# Field names compare without case and surrounding blanks, always (SPEC §2).
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|[T ])")
_KEY_CACHE_LIMIT = 10_000  # records with ever-new keys must not grow the cache forever
# Fields the engine itself reads (the record's date and kept owner).
ENGINE_FIELDS = ("created", "owner")


def field_key(name: str) -> str:
    """The internal form of a field name: trimmed, lower case."""
    return name.strip().lower()


def parse_iso_date(text: str) -> str | None:
    """``YYYY-MM-DD`` (optionally followed by a time) as an ISO date string, or None."""
    if not _ISO_DATE.match(text):
        return None
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def is_number(value: object) -> bool:
    """A YAML/JSON number (booleans are not numbers)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    ) -> None:
        self.case_sensitive = case_sensitive
        self._names: dict[str, str] = {}  # folded incoming name -> canonical
        for canonical, names in (aliases or {}).items():
            key = field_key(canonical)
            self._names[key] = key
            for name in names:
                self._names[field_key(name)] = key
        self.fields = frozenset(self.canonical(f) for f in (*fields, *ENGINE_FIELDS))
        self.numbers = frozenset(self.canonical(f) for f in numbers)
        self.dates = frozenset(self.canonical(f) for f in (*dates, "created"))
        self._keys: dict[str, str | None] = {}  # raw record key -> canonical, or None

    def canonical(self, name: str) -> str:
        """The canonical internal name of a field as written anywhere."""
        key = field_key(name)
        return self._names.get(key, key)

    def _key(self, raw: str, prefix: str) -> str | None:
        full = prefix + raw
        try:
            return self._keys[full]
        except KeyError:
            pass
        if len(self._keys) >= _KEY_CACHE_LIMIT:
            self._keys.clear()
        name = self.canonical(full)
        found = name if name in self.fields else None
        self._keys[full] = found
        return found

    def _fill(self, facts: Facts, record: Mapping[str, Any], prefix: str) -> None:
        keys = self._keys
        fold = not self.case_sensitive
        text = facts.text
        for raw, value in record.items():
            if value is None:
                continue
            if isinstance(value, Mapping):
                # Dotted names reach into nested objects (``address.country``).
                self._fill(facts, value, f"{prefix}{field_key(str(raw))}.")
                continue
            if prefix or not isinstance(raw, str):
                name = self._key(field_key(str(raw)), prefix)
            else:
                name = keys[raw] if raw in keys else self._key(raw, "")
            if name is None:
                continue
            if isinstance(value, str):
                shown = value.strip()
                if not shown:
                    continue  # empty is absent
            elif isinstance(value, bool):
                shown = "true" if value else "false"
            else:
                shown = value.isoformat() if isinstance(value, date) else str(value).strip()
                if not shown:
                    continue
            text[name] = shown.lower() if fold else shown
            if name in self.numbers:
                self._number(facts, name, value, shown)
            if name in self.dates:
                parsed = parse_iso_date(shown)
                if parsed is None:
                    facts.warnings.append(f"{name}: '{shown}' is not a date (YYYY-MM-DD)")
                else:
                    facts.date[name] = parsed

    @staticmethod
    def _number(facts: Facts, name: str, value: object, shown: str) -> None:
        if is_number(value):
            facts.num[name] = value  # type: ignore[assignment]
            return
        try:
            number = float(shown)
        except ValueError:
            facts.warnings.append(f"{name}: '{shown}' is not a number")
            return
        if math.isnan(number):  # NaN never compares; say so rather than fail silently
            facts.warnings.append(f"{name}: '{shown}' is not a number")
            return
        facts.num[name] = number


class Facts:
    """One record as predicates read it.

    ``text``: canonical field -> folded text (absent when missing or empty);
    ``num`` / ``date``: the parsed values of the numeric / date fields that hold one;
    ``warnings``: one line per field whose value could not be parsed.
    """

    __slots__ = ("date", "num", "record", "text", "warnings")

    def __init__(self, record: Mapping[str, Any], schema: FactSchema) -> None:
        self.text: dict[str, str] = {}
        self.num: dict[str, float] = {}
        self.date: dict[str, str] = {}
        self.warnings: list[str] = []
        self.record = record
        schema._fill(self, record, "")

    def raw(self, name: str) -> Any:
        """The record's own value of a top-level field (case and blanks of the key
        ignored), unfolded; None when absent or empty."""
        key = field_key(name)
        for raw, value in self.record.items():
            if isinstance(raw, str) and field_key(raw) == key:
                if isinstance(value, str):
                    value = value.strip()
                return value if value not in ("", None) else None
        return None
