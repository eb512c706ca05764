"""The criteria IR (SPEC §3): the nodes ``criteria.ir`` parses YAML into.

``predicates`` compiles them into closures and ``codegen`` into generated functions;
``analysis`` and ``routing.index`` read them. Values only, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

__all__ = [
    "ALWAYS", "NEVER", "OPERATORS", "ORDER_OPS", "TEXT_OPS", "All", "Any_", "Node", "Not",
    "RuleRef", "Test",
]

TEXT_OPS = ("eq", "in", "ne", "not_in", "prefix", "regex", "exists")
ORDER_OPS = ("between", "gt", "gte", "lt", "lte")
OPERATORS = TEXT_OPS + ORDER_OPS


@dataclass(frozen=True, slots=True)
class Test:
    """One operator on one field.

    ``value`` is normalised: folded text (eq, ne), a tuple of folded texts (in, not_in,
    prefix), a compiled pattern (regex), a bool (exists), a bound or a (low, high) pair
    (between, gt, ...). ``kind`` says how ordered operators compare: "number", "date"
    (ISO strings) or "text". ``written`` is the value as the rule file wrote it, for
    traces only (it takes no part in comparisons, equality or hashing).
    """

    field: str
    op: str
    value: Any
    kind: str = "text"
    written: Any = dataclass_field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class All:
    """Every node holds (an empty All always holds)."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    """One node holds (an empty Any never holds)."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The node does not hold."""

    node: Node


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A named sales rule, already resolved to its node."""

    id: str
    node: Node


Node = Test | All | Any_ | Not | RuleRef
ALWAYS: Node = All(())
NEVER: Node = Any_(())
