"""The compilation of the criteria IR (:mod:`criteria.nodes`) into predicates (SPEC §3).

``criteria.ir`` builds the IR from YAML once, at load; ``compile`` turns it into a
``Predicate`` whose ``test`` is a generated function (:mod:`criteria.codegen`) over
``Facts`` dictionaries, and whose ``explain`` is built from plain closures. Nothing here
walks the IR or touches pydantic per record.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sfa_rules.criteria.codegen import generate
from sfa_rules.criteria.facts import Facts, FactSchema
from sfa_rules.criteria.nodes import ALWAYS, NEVER, All, Any_, Node, Not, RuleRef, Test

Test_ = Callable[[Facts], bool]
Explain = Callable[[Facts], list[dict[str, Any]]]

__all__ = [
    "ALWAYS", "NEVER", "All", "Any_", "Node", "Not", "Predicate", "RuleRef", "Test",
    "closure", "compile", "paused_gc", "shown",
]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while compiling a large configuration.

    Building tens of thousands of predicates allocates millions of long-lived objects;
    each collection pass would walk them all again (a 3-5x slower load, measured).
    The collector's previous state is restored on exit."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def shown(test: Test) -> Any:
    """The expected value of a test, as a trace shows it: as the rule file wrote it."""
    if test.written is not None:
        return list(test.written) if isinstance(test.written, tuple) else test.written
    if test.op == "regex":
        return test.value.pattern
    if isinstance(test.value, tuple):
        return list(test.value)
    return test.value


class Predicate:
    """A compiled criteria block: ``pred(facts) -> bool``; ``pred.explain(facts)``
    lists the failing tests as ``{field, op, expected, actual}``.

    ``test`` is one generated function (``codegen``); hot loops call it directly.
    Both it and the closures behind ``explain`` are built on first use: a run over a
    large plan tests few of its territories one by one (the index proves most), and
    generating a function costs more than a hundred tests of it.
    """

    __slots__ = ("_explain", "_test", "node")

    def __init__(self, node: Node) -> None:
        self._test: Test_ | None = None
        self._explain: Explain | None = None
        self.node = node

    @property
    def test(self) -> Test_:
        """The generated function."""
        test = self._test
        if test is None:
            test = self._test = generate(self.node)
        return test

    def __call__(self, facts: Facts) -> bool:
        return self.test(facts)

    def explain(self, facts: Facts, schema: FactSchema | None = None) -> list[dict[str, Any]]:
        """The failing tests (empty when the predicate holds), with ``actual`` as the
        record wrote it (``schema`` resolves aliased and nested names; without it a
        field is found by its own name)."""
        if self._explain is None:
            self._explain = _compile(self.node)[1]
        failures = self._explain(facts)
        for failure in failures:
            actual = failure["actual"]
            if isinstance(actual, dict):
                failure["actual"] = {name: _written(facts, name, schema) for name in actual}
            elif actual is not None:
                failure["actual"] = _written(facts, failure["field"], schema)
        return failures


def _written(facts: Facts, name: str, schema: FactSchema | None) -> object:
    """The record's own value of a field (text trimmed, not folded), None when absent."""
    if name not in facts.text:
        return None
    if schema is None:
        schema = FactSchema()  # no aliases: a field is found by its own name
    found = schema.written(facts.record, name)
    return facts.text[name] if found is None else found


def compile(node: Node) -> Predicate:
    """The predicate of a node, generated (see ``codegen``) when first tested."""
    return Predicate(node)


def closure(node: Node) -> Test_:
    """The same predicate as nested closures (the reference ``codegen`` is tested
    against, and what ``explain`` is built from)."""
    return _compile(node)[0]


def _compile(node: Node) -> tuple[Test_, Explain]:
    if isinstance(node, Test):
        return _test(node), _explain_test(node)
    if isinstance(node, RuleRef):
        return _compile(node.node)
    if isinstance(node, Not):
        inner, _ = _compile(node.node)

        def negated(f: Facts) -> bool:
            return not inner(f)

        return negated, _explain_not(node, negated)
    parts = [_compile(child) for child in node.nodes]
    tests = tuple(t for t, _ in parts)
    explains = tuple(e for _, e in parts)
    if isinstance(node, All):
        return _all(tests), _explain_all(explains)
    return _any(tests), _explain_any(_any(tests), explains)


def _all(tests: tuple[Test_, ...]) -> Test_:
    if not tests:
        return lambda f: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda f: a(f) and b(f)

    def every(f: Facts) -> bool:
        for t in tests:
            if not t(f):
                return False
        return True

    return every


def _any(tests: tuple[Test_, ...]) -> Test_:
    if not tests:
        return lambda f: False
    if len(tests) == 1:
        return tests[0]

    def some(f: Facts) -> bool:
        for t in tests:
            if t(f):
                return True
        return False

    return some


def _explain_all(explains: tuple[Explain, ...]) -> Explain:
    return lambda f: [failure for e in explains for failure in e(f)]


def _explain_any(test: Test_, explains: tuple[Explain, ...]) -> Explain:
    return lambda f: [] if test(f) else [failure for e in explains for failure in e(f)]


def _fields(node: Node) -> list[str]:
    if isinstance(node, Test):
        return [node.field]
    if isinstance(node, RuleRef):
        return _fields(node.node)
    if isinstance(node, Not):
        return _fields(node.node)
    return [name for child in node.nodes for name in _fields(child)]


def _explain_not(node: Not, test: Test_) -> Explain:
    names = list(dict.fromkeys(_fields(node.node)))

    def explain(f: Facts) -> list[dict[str, Any]]:
        if test(f):
            return []
        return [{
            "field": ", ".join(names),
            "op": "not",
            "expected": _describe(node.node),
            "actual": {name: f.text.get(name) for name in names},
        }]

    return explain


def _describe(node: Node) -> Any:
    """A readable form of a node for traces (the block it came from, roughly)."""
    if isinstance(node, Test):
        return {node.field: {node.op: shown(node)}}
    if isinstance(node, RuleRef):
        return {"rule": node.id}
    if isinstance(node, Not):
        return {"not": _describe(node.node)}
    key = "all" if isinstance(node, All) else "any"
    return {key: [_describe(child) for child in node.nodes]}


def _explain_test(node: Test) -> Explain:
    test = _test(node)
    expected = shown(node)
    field, op = node.field, node.op

    def explain(f: Facts) -> list[dict[str, Any]]:
        if test(f):
            return []
        # a list of values is the node's own: each trace gets its copy
        return [{"field": field, "op": op,
                 "expected": list(expected) if isinstance(expected, list) else expected,
                 "actual": f.text.get(field)}]

    return explain


def _test(node: Test) -> Test_:
    """One closure per operator; each reads one dictionary of the facts."""
    field, op, value = node.field, node.op, node.value
    if op == "eq":
        return lambda f: f.text.get(field) == value
    if op == "ne":
        return lambda f: f.text.get(field) != value
    if op in ("in", "not_in"):
        values = frozenset(value)
        if op == "in":
            return lambda f: f.text.get(field) in values
        return lambda f: f.text.get(field) not in values
    if op == "prefix":
        prefixes = tuple(value)

        def prefix(f: Facts) -> bool:
            text = f.text.get(field)
            return text is not None and text.startswith(prefixes)

        return prefix
    if op == "regex":
        test = value.test  # a regexguard.GuardedPattern: a timed-out match warns

        def regex(f: Facts) -> bool:
            text = f.original.get(field)  # as written: re's own flags decide the case
            return text is not None and test(f, field, text)

        return regex
    if op == "exists":
        if value:
            return lambda f: field in f.text
        return lambda f: field not in f.text
    return _ordered(node)


def _ordered(node: Test) -> Test_:
    field, op, value = node.field, node.op, node.value
    if op == "between":
        low, high = value
        if node.kind == "number":
            return lambda f: (x := f.num.get(field)) is not None and low <= x <= high
        if node.kind == "date":
            return lambda f: (x := f.date.get(field)) is not None and low <= x <= high
        return lambda f: (x := f.text.get(field)) is not None and low <= x <= high
    cmp: Callable[[Any, Any], bool] = getattr(operator, op.replace("gte", "ge").replace("lte", "le"))
    if node.kind == "number":
        return lambda f: (x := f.num.get(field)) is not None and cmp(x, value)
    if node.kind == "date":
        return lambda f: (x := f.date.get(field)) is not None and cmp(x, value)
    return lambda f: (x := f.text.get(field)) is not None and cmp(x, value)
