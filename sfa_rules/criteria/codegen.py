"""Criteria nodes as generated Python functions: one function per block.

A territory's predicate, run per record, is the hot path of matching. Compiled as
nested closures it costs a call per test and touches a dozen scattered objects; with
tens of thousands of territories those memory reads dominate. Generated once at load
instead, a block is one function whose constants (field names, values, sets) sit in
its own code object: ``x.get('country') == 'us' and x.get('state') in {'ca', 'or'}``.

Only literals produced by ``repr`` of str / int / float values are written into the
source; everything else (compiled regexes, non-finite floats) is passed by name, so
no configuration text can change the generated code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sfa_rules.criteria.facts import Facts
from sfa_rules.criteria.nodes import All, Node, Not, RuleRef, Test

_SOURCES = {"number": "n", "date": "d", "text": "x", "original": "o"}
_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class _Builder:
    def __init__(self) -> None:
        self.names: dict[str, Any] = {}
        self.uses: set[str] = set()

    def const(self, value: Any) -> str:
        """A literal for ``value`` (or the name it is passed by)."""
        if isinstance(value, str) or (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ):
            return repr(value)
        name = f"_k{len(self.names)}"
        self.names[name] = value
        return name

    def read(self, kind: str, field: str) -> str:
        source = _SOURCES.get(kind, "x")
        self.uses.add(source)
        return f"{source}.get({self.const(field)})"

    def expr(self, node: Node) -> str:
        if isinstance(node, Test):
            return self.test(node)
        if isinstance(node, RuleRef):
            return self.expr(node.node)
        if isinstance(node, Not):
            return f"(not {self.expr(node.node)})"
        if not node.nodes:
            return "True" if isinstance(node, All) else "False"
        joiner = " and " if isinstance(node, All) else " or "
        return "(" + joiner.join(self.expr(child) for child in node.nodes) + ")"

    def test(self, t: Test) -> str:
        op, value = t.op, t.value
        if op in ("eq", "ne"):
            return f"({self.read('text', t.field)} {'==' if op == 'eq' else '!='} {self.const(value)})"
        if op in ("in", "not_in"):
            # A set display of constants after `in` compiles to a frozenset constant.
            members = "{" + ", ".join(self.const(v) for v in value) + ",}"
            return f"({self.read('text', t.field)} {'in' if op == 'in' else 'not in'} {members})"
        if op == "exists":
            self.uses.add("x")
            return f"({self.const(t.field)} {'in' if value else 'not in'} x)"
        if op == "prefix":
            prefixes = "(" + ", ".join(self.const(v) for v in value) + ",)"
            return f"((v := {self.read('text', t.field)}) is not None and v.startswith({prefixes}))"
        if op == "regex":  # a regexguard.GuardedPattern: a timed-out match warns on f
            return (f"((v := {self.read('original', t.field)}) is not None "
                    f"and {self.const(value)}.test(f, {self.const(t.field)}, v))")
        read = self.read(t.kind, t.field)
        if op == "between":
            low, high = value
            return f"((v := {read}) is not None and {self.const(low)} <= v <= {self.const(high)})"
        return f"((v := {read}) is not None and v {_COMPARE[op]} {self.const(value)})"


def generate(node: Node) -> Callable[[Facts], bool]:
    """One function ``f(facts) -> bool`` computing ``node``."""
    builder = _Builder()
    body = builder.expr(node)
    lines = ["def predicate(f):"]
    for source, attr in (("x", "text"), ("n", "num"), ("d", "date"), ("o", "original")):
        if source in builder.uses:
            lines.append(f"    {source} = f.{attr}")
    lines.append(f"    return {body}")
    namespace: dict[str, Any] = dict(builder.names)
    exec(compile("\n".join(lines), "<criteria>", "exec"), namespace)  # noqa: S102 - see module doc
    function: Callable[[Facts], bool] = namespace["predicate"]
    return function
