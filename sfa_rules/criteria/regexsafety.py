"""A static check of criteria regexes for catastrophic backtracking (``unsafe-regex``).

A backtracking engine takes exponential time on a pattern that can match one text in
exponentially many ways, and the classic shapes of that are visible in the pattern:

- a *nested quantifier*: a repeated group whose body holds another quantifier, with
  nothing in the body that marks where one repetition ends (``(a+)+``, ``(\\w+\\s?)*``,
  ``(\\d{1,3})+``). A body with a required part the inner quantifier cannot match is
  fine: ``(\\w+\\.)*`` (the dot ends each repetition), ``(ab+)*``.
- an *ambiguous alternation* under a quantifier: alternatives that can start the same
  way (``(\\w|\\d)+``, ``(a|a?b)*``), or literal alternatives that can spell one text in
  two ways (``(a|aa)+``, ``(ab|a|b)*``; ``(ab|ac)+`` and ``(a|ab)+`` are fine).

Possessive quantifiers (``a++``) and atomic groups (``(?>...)``) never backtrack into
what they matched and are accepted. The check is conservative about what it cannot
see (a set it cannot enumerate overlaps everything); what it misses (polynomial shapes
like ``\\d+\\d+\\d+x``) the run's per-match time limit still stops (``regexguard``).

It reads the pattern with the parser of Python's own ``re`` (``re._parser``), the
syntax criteria regexes are written in.
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Iterable, Sequence
from typing import Any

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

# A repeat of at most this many times is polynomial whatever its body: not reported.
_SMALL_REPEAT = 10
_PLAIN_BRANCHES = 4
_ONE_CHAR = (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY, _c.CATEGORY)
_CATEGORY_CHARS = {
    _c.CATEGORY_DIGIT: frozenset(string.digits),
    _c.CATEGORY_WORD: frozenset(string.ascii_letters + string.digits + "_"),
    _c.CATEGORY_SPACE: frozenset(" \t\n\r\f\v"),
}
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT)
# Chars: a frozenset of the characters an item can match, or None for "any, as far
# as this check can tell" (overlaps everything).
Chars = frozenset[str] | None
Items = Sequence[tuple[Any, Any]]
_EMPTY: frozenset[str] = frozenset()


def unsafe_reason(pattern: str, flags: int = 0) -> str | None:
    """Why ``pattern`` may take exponential time, or None when no shape above is seen
    (``pattern`` must already compile with ``re``)."""
    try:
        parsed = _parser.parse(pattern, flags)
    except Exception:  # noqa: BLE001 - compiled by re already; nothing to say here
        return None
    fold = bool((flags | parsed.state.flags) & re.IGNORECASE)
    try:
        return _walk(list(parsed), fold)
    except RecursionError:
        return "groups nest too deep to be checked"


def is_plain(pattern: str, flags: int = 0) -> bool:
    """No quantifier (but a character class a fixed number of times: ``\\d{5}``), no
    back-reference and at most ``_PLAIN_BRANCHES`` alternations (``^acme``,
    ``@(gmail|yahoo)\\.``): a match tries each start once and each alternative there
    once, so it cannot take long and needs no time limit."""
    try:
        items = list(_parser.parse(pattern, flags))
    except Exception:  # noqa: BLE001 - compiled by re already
        return False
    branches = 0
    todo: list[Items] = [items]
    while todo:
        for op, av in todo.pop():
            if op in _REPEATS and av[0] == av[1] and len(av[2]) == 1 and av[2][0][0] in _ONE_CHAR:
                continue  # \d{5}: one character class, a fixed number of times
            if op in _REPEATS or op in (_c.POSSESSIVE_REPEAT, _c.GROUPREF, _c.GROUPREF_EXISTS):
                return False
            branches += op == _c.BRANCH
            todo.extend(_children(op, av))
    return branches <= _PLAIN_BRANCHES


def _walk(items: Items, fold: bool) -> str | None:
    """The first unsafe shape in ``items`` and everything nested in them."""
    for op, av in items:
        if op in _REPEATS:
            _, high, body = av
            if high == _c.MAXREPEAT or high > _SMALL_REPEAT:
                reason = _repeated_body(_flat(list(body)), fold)
                if reason is not None:
                    return reason
            found = _walk(list(body), fold)
        else:
            found = next((r for sub in _children(op, av) if (r := _walk(sub, fold))), None)
        if found is not None:
            return found
    return None


def _children(op: Any, av: Any) -> Iterable[Items]:
    """The sub-patterns directly inside one item."""
    if op == _c.ATOMIC_GROUP:
        yield list(av)
    elif op == _c.SUBPATTERN or op in _REPEATS or op == _c.POSSESSIVE_REPEAT:
        yield list(av[-1])
    elif op == _c.BRANCH:
        yield from (list(p) for p in av[1])
    elif op in (_c.ASSERT, _c.ASSERT_NOT):
        yield list(av[1])
    elif op == _c.GROUPREF_EXISTS:
        yield from (list(p) for p in av[1:] if p is not None)


def _flat(items: Items) -> list[tuple[Any, Any]]:
    """``items`` with plain groups opened: ``((a)(b+))`` is the sequence a, b+."""
    out: list[tuple[Any, Any]] = []
    for op, av in items:
        if op == _c.SUBPATTERN:
            out.extend(_flat(list(av[-1])))
        else:
            out.append((op, av))
    return out


def _repeated_body(body: list[tuple[Any, Any]], fold: bool) -> str | None:
    """The reason a body repeated many times is unsafe, or None."""
    words = _words(body, fold)
    if words is not None:  # literal text only (re factors (a|ab) as a(?:|b))
        if _uniquely_decodable(words):
            return None
        return ("ambiguous alternation: repeated literal alternatives can spell one "
                "text in several ways")
    for i, (op, av) in enumerate(body):
        if _varies([(op, av)]):
            inner = _chars([(op, av)], fold)
            required = [body[j] for j in range(len(body)) if j != i and _min_width([body[j]]) > 0]
            if all(_overlap(_chars([item], fold), inner) for item in required):
                return ("nested quantifiers: a repeated group holds a quantifier that can "
                        "split the same text between repetitions in many ways")
        if op == _c.BRANCH:
            reason = _ambiguous(av[1], fold)
            if reason is not None:
                return reason
    return None


def _ambiguous(alternatives: Sequence[Any], fold: bool) -> str | None:
    """The reason a repeated alternation is ambiguous, or None."""
    if any(_words(list(a), fold) is not None for a in alternatives):
        return None  # a literal part: only a whole literal body says (_repeated_body)
    firsts = [_first(list(a), fold) for a in alternatives]
    for i, first in enumerate(firsts):
        if any(_overlap(first, other) for other in firsts[i + 1:]):
            return ("ambiguous alternation: repeated alternatives can start with the "
                    "same character")
    return None


def _varies(items: Items) -> bool:
    """Holds a backtracking quantifier that can match more than one character count."""
    for op, av in items:
        if op in _REPEATS and av[0] != av[1] and _max_width(list(av[2])) > 0:
            return True
        if op != _c.ATOMIC_GROUP and any(_varies(sub) for sub in _children(op, av)):
            return True
    return False


def _chars(items: Items, fold: bool) -> Chars:
    """Every character ``items`` can match anywhere."""
    out: set[str] = set()
    for op, av in items:
        got = _item_chars(op, av, fold)
        if got is None:
            return None
        out |= got
    return frozenset(out)


def _item_chars(op: Any, av: Any, fold: bool) -> Chars:
    if op == _c.LITERAL:
        return _folded({chr(av)}, fold)
    if op == _c.IN:
        return _set_chars(av, fold)
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return _EMPTY  # zero width
    if op in (_c.NOT_LITERAL, _c.ANY, _c.GROUPREF, _c.CATEGORY):
        return _CATEGORY_CHARS.get(av) if op == _c.CATEGORY else None
    return _chars([i for sub in _children(op, av) for i in sub], fold)


def _set_chars(members: Items, fold: bool) -> Chars:
    out: set[str] = set()
    for op, av in members:
        if op == _c.LITERAL:
            out.add(chr(av))
        elif op == _c.RANGE and av[1] - av[0] < 256:
            out.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op == _c.CATEGORY and av in _CATEGORY_CHARS:
            out |= _CATEGORY_CHARS[av]
        else:  # NEGATE, a wide range, a negated category
            return None
    return _folded(out, fold)


def _folded(chars: set[str], fold: bool) -> frozenset[str]:
    if not fold:
        return frozenset(chars)
    return frozenset(c.lower() for c in chars) | frozenset(c.upper() for c in chars)


def _first(items: Items, fold: bool) -> Chars:
    """The characters a match of ``items`` can start with."""
    out: set[str] = set()
    for op, av in items:
        got: Chars
        if op == _c.ATOMIC_GROUP:
            got = _first(list(av), fold)
        elif op == _c.SUBPATTERN or op in _REPEATS or op == _c.POSSESSIVE_REPEAT:
            got = _first(list(av[-1]), fold)
        elif op == _c.BRANCH:
            firsts = [_first(list(alt), fold) for alt in av[1]]
            got = None if None in firsts else frozenset().union(*firsts)  # type: ignore[arg-type]
        else:
            got = _item_chars(op, av, fold)
        if got is None:
            return None
        out |= got
        if _min_width([(op, av)]) > 0:
            break
    return frozenset(out)


def _overlap(a: Chars, b: Chars) -> bool:
    if a is None or b is None:
        return a != _EMPTY and b != _EMPTY
    return bool(a & b)


def _words(items: Items, fold: bool, limit: int = 64) -> list[str] | None:
    """The texts a sequence of literals and alternations of literals spells (at most
    ``limit`` of them, with repeats), else None."""
    words = [""]
    for op, av in _flat(items):
        if op == _c.LITERAL:
            char = chr(av).lower() if fold else chr(av)
            words = [w + char for w in words]
            continue
        if op != _c.BRANCH:
            return None
        options: list[str] = []
        for alternative in av[1]:
            spelled = _words(list(alternative), fold, limit)
            if spelled is None:
                return None
            options += spelled
        if len(words) * len(options) > limit:
            return None
        words = [w + o for w in words for o in options]
    return words


def _uniquely_decodable(words: list[str]) -> bool:
    """Sardinas-Patterson: no text is a concatenation of ``words`` in two ways."""
    code = set(words)
    if len(code) < len(words) or "" in code:
        return False

    def dangling(left: Iterable[str], right: Iterable[str]) -> set[str]:
        return {b[len(a):] for a in left for b in right if len(b) > len(a) and b.startswith(a)}

    suffixes = dangling(code, code)
    seen: set[frozenset[str]] = set()
    while suffixes:
        if suffixes & code:
            return False
        key = frozenset(suffixes)
        if key in seen:
            return True
        seen.add(key)
        suffixes = dangling(code, suffixes) | dangling(suffixes, code)
    return True


def _min_width(items: Items) -> int:
    width: int = _parser.SubPattern(_parser.State(), list(items)).getwidth()[0]
    return width


def _max_width(items: Items) -> int:
    width: int = _parser.SubPattern(_parser.State(), list(items)).getwidth()[1]
    return width
