"""Atoms: each field's possible values cut into finitely many classes (SPEC §15).

Per field, the values a record can hold are cut into *atoms*: absent,
present-but-unparseable (number and date fields), each bound or constant the
configuration compares the field with, and the open gaps between consecutive ones.
Every operator of the criteria language except ``regex`` holds on a union of atoms, so
a test becomes a bit mask (:meth:`Partition.mask`). An atom is kept only when some
real value lies in it (its *witness*, checked against the value domain: folded,
trimmed, non-empty text; numbers; ISO dates), so an empty mask means no value at all.
A test the atoms cannot decide raises :class:`Unknown`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from sfa_rules.criteria.facts import parse_iso_date, read_number
from sfa_rules.criteria.nodes import Node, Not, RuleRef, Test

ABSENT = 1  # bit 0: absent or empty
OTHER = 2  # bit 1: present, but not a number (number fields) / not a date (date fields)
DATE_FIELD = "(Date)"  # the record's date (`created`, else --as-of, else today); field
# names are lower case, so no criteria field can be called this
_ORDERED = ("between", "gt", "gte", "lt", "lte")
_TEXT_OPS = ("eq", "ne", "in", "not_in", "prefix")
_AS = {"text": "text", "number": "a number", "date": "a date"}
# Suffixes tried, in order, to find a value strictly inside a gap between two texts.
_SUFFIXES = ("0", "a", "z", "~", "!", "\x01", "a0", " z", "\x01z", "\u00ff")


class Unknown(Exception):
    """A test the algebra cannot decide; ``reason`` names it ("" when already an error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _range(lo: int, hi: int) -> int:
    """Bits lo..hi inclusive."""
    return 0 if hi < lo else ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)


def bits(mask: int) -> Iterator[int]:
    """The set bits of a mask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _succ(prefix: str) -> str:
    """The least text above every text that starts with ``prefix``."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        raise Unknown(f"prefix {prefix!r} ends in the last character")
    return prefix[:-1] + chr(last + 1)


def _number_text(x: float) -> str:
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


class Partition:
    """The atoms of one field: bit 0 absent, bit 1 unparseable, then alternately the
    gap before each key and the key itself (gap 0, key 0, gap 1, ..., gap n)."""

    def __init__(self, name: str, kind: str, keys: Iterable[Any], case_sensitive: bool,
                 always_present: bool = False) -> None:
        self.name = name
        self.kind = kind  # "text" | "number" | "date" | "opaque" (only `exists` decided)
        self.reason = f"field '{name}' cannot be reasoned about"
        self.exists_decided = True
        self.case_sensitive = case_sensitive
        self.keys: list[Any] = sorted(set(keys))
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.witnesses: dict[int, str | None] = {}
        if not always_present:
            self.witnesses[0] = None
        if kind in ("number", "date") and not always_present:
            self.witnesses[1] = "n/a"
        n = len(self.keys)
        for i in range(n + 1):
            low = self.keys[i - 1] if i else None
            high = self.keys[i] if i < n else None
            gap = self._inside(low, high)
            if gap is not None:
                self.witnesses[2 + 2 * i] = gap
            if i < n and self._valid(self.keys[i]):
                self.witnesses[3 + 2 * i] = self._text(self.keys[i])
        self.valid = sum(1 << b for b in self.witnesses)

    # -- the value domain of each kind ------------------------------------------

    def _valid(self, key: Any) -> bool:
        if self.kind in ("number", "date"):
            return True
        text: str = key
        if not text or text != text.strip():
            return False
        return self.case_sensitive or text == text.lower()

    def _text(self, key: Any) -> str:
        return _number_text(key) if self.kind == "number" else str(key)

    def _inside(self, low: Any, high: Any) -> str | None:
        """A value strictly between two keys (None: open end), or None when none is."""
        if self.kind == "number":
            if low is None and high is None:
                return "0"
            lo = -math.inf if low is None else float(low)
            hi = math.inf if high is None else float(high)
            guess = hi - 1 if low is None else lo + 1 if high is None else (lo + hi) / 2
            for x in (guess, math.nextafter(lo, hi)):
                if lo < x < hi:
                    return _number_text(x)
            return None
        if self.kind == "date":
            first, last = date.min.toordinal(), date.max.toordinal()
            lo = first - 1 if low is None else date.fromisoformat(low).toordinal()
            hi = last + 1 if high is None else date.fromisoformat(high).toordinal()
            return date.fromordinal(lo + 1).isoformat() if hi - lo > 1 else None
        return self._text_inside(low, high)

    def _text_inside(self, low: str | None, high: str | None) -> str | None:
        bases = [low or ""]
        if low is not None:  # texts just above `low` that do not start with it
            bases += [low[:k] + chr(ord(low[k]) + 1) for k in range(len(low)) if ord(low[k]) < 0x10FFFF]
        if high is None:
            bases += ["\uffee", "\U0010fffd"]
        else:
            bases += [high[:k] for k in range(len(high))]
            bases += [high[:k] + chr(ord(high[k]) - 1) for k in range(len(high)) if ord(high[k])]
        for base in bases:
            for suffix in ("", *_SUFFIXES):
                text = base + suffix
                if ((low is None or text > low) and (high is None or text < high)
                        and self._valid(text)):
                    return text
        if low is None and high is None:
            return "x"
        if high is not None and low is not None and high == low + "\x00":
            return None  # provably empty: nothing sorts between t and t + NUL
        # No witness found and emptiness not proven: refuse to reason about this field.
        raise Unknown(f"field '{self.name}': cannot tell whether texts between "
                      f"{'the lowest' if low is None else repr(low)} and "
                      f"{'the highest' if high is None else repr(high)} exist")

    # -- atoms of tests ------------------------------------------------------------

    def point(self, key: Any) -> int:
        """The bit of a key of this partition."""
        return 3 + 2 * self.index[key]

    def locate(self, value: Any) -> int:
        """The atom (bit number) holding a value of this field's kind."""
        i = bisect_left(self.keys, value)
        if i < len(self.keys) and self.keys[i] == value:
            return 3 + 2 * i
        return 2 + 2 * i

    def locate_text(self, value: str | None) -> int:
        """The atom of a record's value as written (None or blank: absent), read as
        :class:`facts.Facts` reads it: trimmed, then folded, parsed as a number or a date."""
        shown = "" if value is None else value.strip()
        if not shown:
            return 0
        if self.kind == "number":
            number = read_number(shown)
            return 1 if number is None else self.locate(number)
        if self.kind == "date":
            day = parse_iso_date(shown)
            return 1 if day is None else self.locate(day)
        return self.locate(shown if self.case_sensitive else shown.lower())

    def _interval(self, low: Any, low_in: bool, high: Any, high_in: bool) -> int:
        start = 2 if low is None else self.point(low) + (0 if low_in else 1)
        end = 2 + 2 * len(self.keys) if high is None else self.point(high) - (0 if high_in else 1)
        return _range(start, end)

    def mask(self, test: Test) -> int:
        """The atoms where ``test`` holds."""
        op, value = test.op, test.value
        present = self.valid & ~ABSENT
        if op == "exists" and self.exists_decided:
            return present if value else self.valid & ABSENT
        kind = test.kind if op in _ORDERED else "text" if op in _TEXT_OPS else ""
        if self.kind == "opaque":
            raise Unknown(self.reason)
        if op == "regex":
            raise Unknown(f"'{test.field}' uses a regex, which the static checks cannot reason about")
        if kind != self.kind:
            raise Unknown(f"'{test.field}' is compared both as {_AS.get(self.kind, self.kind)} "
                          f"and as {_AS.get(kind, kind or op)}")
        if op in ("eq", "ne", "in", "not_in"):
            values = (value,) if op in ("eq", "ne") else value
            points = 0
            for v in values:
                points |= 1 << self.point(v)
            points &= self.valid
            return points if op in ("eq", "in") else self.valid & ~points
        if op == "prefix":
            if "" in value:
                return present
            out = 0
            for p in value:
                out |= self._interval(p, True, _succ(p), False)
            return out & self.valid
        if op == "between":
            return self._interval(value[0], True, value[1], True) & self.valid
        low_in = op in ("gte", "lte")
        if op in ("gt", "gte"):
            return self._interval(value, low_in, None, False) & self.valid
        return self._interval(None, False, value, low_in) & self.valid

    def witness(self, mask: int) -> str | None:
        """A readable value in ``mask``: absent when allowed, else a key, else a gap."""
        if mask & ABSENT:
            return None
        points = [b for b in bits(mask) if b >= 3 and b % 2 == 1]
        return self.witnesses[points[0] if points else next(bits(mask))]


def keys_of(test: Test) -> list[Any]:
    """The keys a test adds to its field's partition."""
    op, value = test.op, test.value
    if op in ("eq", "ne"):
        return [value]
    if op in ("in", "not_in"):
        return list(value)
    if op == "prefix":
        return [k for p in value if p for k in (p, _succ(p))]
    if op == "between":
        return list(value)
    if op in ("gt", "gte", "lt", "lte"):
        return [value]
    return []


def tests_of(node: Node) -> Iterator[Test]:
    """Every test in a node (rules included)."""
    if isinstance(node, Test):
        yield node
    elif isinstance(node, (RuleRef, Not)):
        yield from tests_of(node.node)
    else:
        for child in node.nodes:
            yield from tests_of(child)


def field_kind(tests: Iterable[Test]) -> str:
    """How a field's atoms are ordered: text wins over number, number over date."""
    kinds = {t.kind if t.op in _ORDERED else "text" for t in tests if t.op in (*_TEXT_OPS, *_ORDERED)}
    return "text" if "text" in kinds else "number" if "number" in kinds else "date" if kinds else "text"


def partitions(nodes: Iterable[Node], case_sensitive: bool) -> dict[str, Partition]:
    """One partition per field the nodes test, from every bound and constant they use."""
    by_field: dict[str, list[Test]] = {}
    for node in nodes:
        for test in tests_of(node):
            by_field.setdefault(test.field, []).append(test)
    out: dict[str, Partition] = {}
    for name, tests in by_field.items():
        kind = field_kind(tests)
        keys: list[Any] = []
        for t in tests:
            if t.op in _ORDERED and t.kind != kind or t.op in _TEXT_OPS and kind != "text":
                continue
            try:
                keys += keys_of(t)
            except Unknown:
                continue  # that test stays unknown when its mask is asked for
        try:
            out[name] = Partition(name, kind, keys, case_sensitive, name == DATE_FIELD)
        except Unknown as unknown:
            # No witness for some gap: only `exists` is decided on this field.
            out[name] = Partition(name, "opaque", [], case_sensitive, name == DATE_FIELD)
            out[name].reason = unknown.reason
    for name in list(out):
        inner = next((f for f in out if f.startswith(name + ".")), None)
        if inner is not None:
            # `address` holds text only when it is not a mapping holding `address.country`:
            # the two are not independent, so nothing is decided about the outer one.
            outer = Partition(name, "opaque", [], case_sensitive)
            outer.reason = f"'{name}' is read both as a value and as holding '{inner}'"
            outer.exists_decided = False
            out[name] = outer
    return out
