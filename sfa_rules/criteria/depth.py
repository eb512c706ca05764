"""How deep criteria nest, named rules expanded: a configuration limit (``too-deep``).

Compiling, indexing and analysing criteria walk them recursively, and a chain of
hundreds of sales rules, each referring to the previous one, overflowed Python's stack
(or its parser) long after ``validate`` had said yes. So a criteria block may nest at
most ``MAX_CRITERIA_DEPTH`` levels, counting each ``any``, ``all``, ``not``, each named
rule it refers to (with that rule's own depth), and each block of several entries: a
rule and 25 more that each add a condition to the one before nest 50 levels. The
engine is tested to compile and run at the limit (tests/test_limits.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from sfa_rules.criteria.nodes import Node, Not, RuleRef, Test

MAX_CRITERIA_DEPTH = 50


def depth(node: Node, rules: Mapping[str, int]) -> tuple[int, bool]:
    """The depth of ``node`` and whether it goes through a rule already too deep
    (``rules``: the depths of the named rules parsed so far)."""
    if isinstance(node, Test):
        return 0, False
    if isinstance(node, RuleRef):
        known = rules.get(node.id)
        if known is not None:
            return 1 + known, known > MAX_CRITERIA_DEPTH
        inner, through = depth(node.node, rules)
        return 1 + inner, through
    children = (node.node,) if isinstance(node, Not) else node.nodes
    deepest, through = 0, False
    for child in children:
        d, t = depth(child, rules)
        deepest, through = max(deepest, d), through or t
    return 1 + deepest, through


def too_deep_message(what: str, found: int) -> str:
    """The ``too-deep`` message for criteria ``found`` levels deep."""
    return (f"{what} nest {found} levels deep, named rules expanded; the limit is "
            f"{MAX_CRITERIA_DEPTH} (each any, all, not, named rule and block of several "
            "entries is a level): refer to fewer rules in a chain, or write the "
            "conditions out")
