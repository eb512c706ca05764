"""Index keys of territory criteria (SPEC §13): what a criteria block lets the index
file a territory under.

A *key* is one thing a record's text can hold: ``(field, "eq", value)`` (the folded
value equals it) or ``(field, "prefix", value)`` (it starts with it). An *option* of a
criteria block is a set of keys at least one of which every matching record holds:
``state: [CA, OR]`` gives {state=ca, state=or}; ``zip: {prefix: "94"}``, a text
``between`` (the prefixes its bounds share) and a ``regex`` anchored by ``^`` and
literal text (``^acme``) give prefixes; ``any`` of blocks gives one key set drawn from
each alternative (``any: [{country: X}, {state: Y}]`` -> {country=x, state=y}). Also
the guards (values a field must not hold) and numeric ranges a block requires.
:mod:`routing.index` builds the candidate sets from them.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from sfa_rules.criteria.nodes import All, Any_, Node, Not, RuleRef, Test

Key = tuple[str, str, str]  # (field, "eq" | "prefix", value)
Option = frozenset[Key]
Group = tuple[str, str]  # (field, "eq" | "prefix")

# A text range is indexed by its common prefix plus the span of its next character,
# when that span is no wider than this (e.g. "90000".."96199" -> "90".."96").
_MAX_SPAN = 64
# At most this many options kept per block (an `any` of `any`s multiplies them).
_MAX_OPTIONS = 8
# Operators whose keys are exactly what they require (a between's or regex's are more).
_KEYED = ("eq", "in", "prefix")
_BOUNDS = ("between", "gt", "gte", "lt", "lte")
_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_REGEX_REPEAT = frozenset("*+?{")
# Literal characters whose case-insensitive matches all fold (str.lower) to text that
# starts with their own lower case: "i" and "s" also match "ı" and "ſ", which do not.
_FOLD_SAFE = frozenset(
    "abcdefghjklmnopqrtuvwxyzABCDEFGHJKLMNOPQRTUVWXYZ0123456789 -_@,:/#&'\"=!%<>;~`")


def options(node: Node) -> list[Option]:
    """The options a node requires (each a key set one of which every matching record
    holds); empty when nothing usable is required."""
    if isinstance(node, Test):
        keys = _test_keys(node)
        return [keys] if keys else []
    if isinstance(node, RuleRef):
        return options(node.node)
    if isinstance(node, Not):
        return []
    children = [options(child) for child in node.nodes]
    if isinstance(node, All):
        return _conjoin([o for opts in children for o in opts])
    if not children or any(not opts for opts in children):
        return []  # an alternative with no key: a record may match through it alone
    return _disjoin(children)


def group_of(option: Option) -> set[Group]:
    """The (field, kind) pairs an option's keys use."""
    return {(f, k) for f, k, _ in option}


def _test_keys(node: Test) -> Option:
    field, op = node.field, node.op
    if op in ("eq", "in"):
        values = (node.value,) if op == "eq" else node.value
        return frozenset((field, "eq", v) for v in values)
    if op == "prefix":
        return frozenset((field, "prefix", p) for p in minimal(node.value))
    if op == "between" and node.kind == "text":
        return frozenset((field, "prefix", p) for p in range_prefixes(*node.value))
    if op == "regex":
        literal = regex_prefix(node.value)
        return frozenset([(field, "prefix", literal)]) if literal else frozenset()
    return frozenset()


def _conjoin(found: list[Option]) -> list[Option]:
    """All the options of a conjunction, the smallest one per single (field, kind)."""
    single: dict[Group, Option] = {}
    mixed: list[Option] = []
    for option in found:
        groups = group_of(option)
        if len(groups) == 1:
            (g,) = groups
            if g not in single or len(option) < len(single[g]):
                single[g] = option
        elif option not in mixed:
            mixed.append(option)
    return [*single.values(), *mixed[:_MAX_OPTIONS]]


def _disjoin(children: list[list[Option]]) -> list[Option]:
    """Options of an ``any``: per (field, kind) every alternative requires, the union
    of theirs; and one mixed option taking each alternative's smallest option."""
    out: list[Option] = []
    common = set.intersection(*(
        {g for o in opts if len(gs := group_of(o)) == 1 for g in gs} for opts in children))
    for g in sorted(common):
        union = frozenset().union(*(
            min((o for o in opts if group_of(o) == {g}), key=len) for opts in children))
        out.append(_tidy(union))
    mixed = _tidy(frozenset().union(*(min(opts, key=len) for opts in children)))
    if mixed not in out:
        out.append(mixed)
    return out[:_MAX_OPTIONS]


def _tidy(option: Option) -> Option:
    """Per field, drop prefixes that a shorter one (or an equal value) already covers."""
    prefixes: dict[str, list[str]] = defaultdict(list)
    for f, k, v in option:
        if k == "prefix":
            prefixes[f].append(v)
    if not prefixes:
        return option
    kept = {(f, k, v) for f, k, v in option if k == "eq"}
    for f, values in prefixes.items():
        kept |= {(f, "prefix", p) for p in minimal(values)}
    return frozenset(kept)


def minimal(prefixes: Sequence[str] | frozenset[str]) -> frozenset[str]:
    """Drop prefixes that a shorter one already covers, so a value hits one bucket."""
    kept: list[str] = []
    for p in sorted(set(prefixes), key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return frozenset(kept)


def range_prefixes(low: str, high: str) -> frozenset[str]:
    """Prefixes every text in [low, high] starts with one of (empty: no help)."""
    k = 0
    while k < len(low) and k < len(high) and low[k] == high[k]:
        k += 1
    common = low[:k]
    if k < len(low) and k < len(high) and ord(high[k]) - ord(low[k]) < _MAX_SPAN:
        return frozenset(common + chr(c) for c in range(ord(low[k]), ord(high[k]) + 1))
    return frozenset([common]) if common else frozenset()


def regex_prefix(pattern: Any) -> str | None:
    """The literal text every string the pattern finds starts with (``^acme\\d`` ->
    "acme"), folded as record text is when the pattern ignores case; None when there
    is none or the pattern is not plainly anchored (no ``^``, ``|``, multiline...)."""
    text, flags = pattern.pattern, pattern.flags
    if flags & (re.MULTILINE | re.VERBOSE) or not text.startswith("^") or "|" in text:
        return None
    literal: list[str] = []
    for c in text[1:]:
        if c in _REGEX_SPECIAL:
            if c in _REGEX_REPEAT and literal:
                literal.pop()  # "^ab?" requires only "a"
            break
        if flags & re.IGNORECASE and c not in _FOLD_SAFE:
            break
        literal.append(c)
    found = "".join(literal)
    if flags & re.IGNORECASE:
        found = found.lower()
    return found or None


def implied(node: Node, used: Sequence[Option], passed: Sequence[Guard] = (),
            ranged: Collection[str] = ()) -> bool:
    """Does finding a record through ``used`` (it holds a key of each option), having
    ``passed`` guards and lying in the exact range cells of the ``ranged`` fields,
    prove that ``node`` holds? Every conjunct must be proven: an eq / in / prefix test
    by an option that is exactly its keys, an ``any`` of such tests by an option that
    is exactly all their keys (``any: [{country: X}, {state: Y}]`` by {country=x,
    state=y}: a record holding either key holds one alternative), a ne / not_in (or
    ``not`` of eq / in) by a guard, a numeric bound by its field's cells."""
    for part in _parts(node):
        if isinstance(part, Any_):
            tests = [t for alternative in part.nodes
                     if isinstance(t := _unwrapped(alternative), Test) and t.op in _KEYED]
            if len(tests) < len(part.nodes):
                return False
            if _tidy(frozenset().union(*(_test_keys(t) for t in tests))) not in used:
                return False
        elif isinstance(part, Test) and part.op in _KEYED:
            if _test_keys(part) not in used:
                return False
        elif isinstance(part, Test) and part.kind == "number" and part.op in _BOUNDS:
            if part.field not in ranged:
                return False
        elif (excluded := _as_guard(part)) is not None:
            if not any(g[0] == excluded[0] and excluded[1] <= g[1] for g in passed):
                return False
        else:
            return False
    return True


Guard = tuple[str, frozenset[str]]  # (field, values it must not hold)


class Range(NamedTuple):
    """A numeric interval a block requires of a field (±inf: no bound there), each
    bound strict (``gt``/``lt``) or not; ``exact`` unless a bound was no finite number."""

    field: str
    low: float
    low_strict: bool
    high: float
    high_strict: bool
    exact: bool


def guards(node: Node) -> list[Guard]:
    """The values a field must not hold for the node to hold (``ne``, ``not_in``, or
    ``not`` of ``eq``/``in``, among the node's conjuncts); an absent field holds them."""
    return [g for part in _parts(node) if (g := _as_guard(part)) is not None]


def _as_guard(part: Node) -> Guard | None:
    """The values a field must not hold, when that is all ``part`` says."""
    negated = isinstance(part, Not)
    test = _unwrapped(part.node if isinstance(part, Not) else part)
    if not isinstance(test, Test) or test.op not in (("eq", "in") if negated else ("ne", "not_in")):
        return None
    values = (test.value,) if test.op in ("eq", "ne") else test.value
    return (test.field, frozenset(values)) if values else None


def _unwrapped(node: Node) -> Node:
    """The node a named rule stands for (the node itself when it is no rule)."""
    while isinstance(node, RuleRef):
        node = node.node
    return node


def number_ranges(node: Node) -> list[Range]:
    """Every field's numeric interval the node requires, from its conjuncts (the
    tightest bound on each side), the fields bounded on both sides first."""
    low: dict[str, tuple[float, bool]] = {}
    high: dict[str, tuple[float, bool]] = {}
    loose: set[str] = set()  # a bound that is no finite number: ignored (a superset)
    for t in _parts(node):
        if not isinstance(t, Test) or t.kind != "number" or t.op not in _BOUNDS:
            continue
        if t.op == "between":
            bounds = [(low, t.value[0], False), (high, t.value[1], False)]
        else:
            bounds = [(low, t.value, t.op == "gt") if t.op in ("gt", "gte")
                      else (high, t.value, t.op == "lt")]
        for side, value, strict in bounds:
            if not finite(value):
                loose.add(t.field)
                continue
            old = side.get(t.field)
            if old is None or (value > old[0] if side is low else value < old[0]) or (
                    value == old[0] and strict):
                side[t.field] = (value, strict)
    fields = sorted(set(low) | set(high) | loose,
                    key=lambda f: (f not in low or f not in high, f))
    return [Range(f, *low.get(f, (-math.inf, False)), *high.get(f, (math.inf, False)),
                  f not in loose) for f in fields]


def finite(value: float) -> bool:
    """Not ±inf or NaN (not math.isfinite alone: an int of any size is finite)."""
    return isinstance(value, int) or math.isfinite(value)


def _parts(node: Node) -> list[Node]:
    """The conjuncts of a node (through ``all`` and named rules), whatever they are."""
    if isinstance(node, RuleRef):
        return _parts(node.node)
    if isinstance(node, All):
        return [p for child in node.nodes for p in _parts(child)]
    return [node]
