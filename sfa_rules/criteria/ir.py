"""Criteria: parse YAML blocks into the IR, with positioned problems (SPEC §3).

``CriteriaContext(config, sourcemap)`` parses every criteria block of a configuration
once (named sales rules first, each once), collects the problems, and builds the
``FactSchema`` (which fields matter, which are numbers or dates). ``parse`` is the
per-block entry point; ``compile`` (from ``predicates``) turns a node into closures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, Protocol

from sfa_rules.config.models import Config
from sfa_rules.criteria.customers import CustomerValues
from sfa_rules.criteria.depth import MAX_CRITERIA_DEPTH, depth, too_deep_message
from sfa_rules.criteria.facts import Facts, FactSchema, is_number, parse_iso_date
from sfa_rules.criteria.nodes import ALWAYS, NEVER, OPERATORS, All, Any_, Node, Not, RuleRef, Test
from sfa_rules.criteria.predicates import Predicate, compile, paused_gc
from sfa_rules.criteria.regexguard import GuardedPattern
from sfa_rules.criteria.regexsafety import unsafe_reason
from sfa_rules.criteria.written import empty_value, misread_bound
from sfa_rules.errors import Problem, did_you_mean

__all__ = [
    "All", "Any_", "CriteriaContext", "FactSchema", "Facts", "Node", "Not", "Predicate",
    "RuleRef", "SourceMapLike", "Test", "check_config", "compile", "criteria_blocks", "parse",
]

Path = tuple[str | int, ...]


class SourceMapLike(Protocol):
    """Anything that gives the position of a configuration path."""

    def at(self, path: Path) -> tuple[str, int, int]: ...


class _Unplaced:
    """The source map left to a loaded engine's criteria (see ``forget_sources``)."""

    def at(self, path: Path) -> tuple[str, int, int]:
        return ("<configuration>", 0, 0)


def criteria_blocks(config: Config) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every inline criteria block of a configuration with its path (rules first)."""
    for i, rule in enumerate(config.sales_rules):
        yield ("sales_rules", i, "when"), rule.when
    for i, territory in enumerate(config.territories):
        if territory.when is not None:
            yield ("territories", i, "when"), territory.when
    for i, override in enumerate(config.assignment.overrides):
        yield ("assignment", "overrides", i, "when"), override.when
    for i, transition in enumerate(config.lifecycle.transitions):
        if transition.when is not None:
            yield ("lifecycle", "transitions", i, "when"), transition.when
    for i, follow_up in enumerate(config.follow_ups):
        if follow_up.when is not None:
            yield ("follow_ups", i, "when"), follow_up.when


class CriteriaContext:
    """Parsing state for one configuration: the problems found, the named rules
    (each parsed once, cycles detected), the parsed blocks by path, and the schema."""

    def __init__(self, config: Config, sourcemap: SourceMapLike) -> None:
        with paused_gc():
            self._parse_all(config, sourcemap)

    def _parse_all(self, config: Config, sourcemap: SourceMapLike) -> None:
        self.config = config
        self.sourcemap = sourcemap
        self.problems: list[Problem] = []
        self.case_sensitive = config.settings.case_sensitive
        self._names = FactSchema(config.settings.fields)  # canonical field names only
        self._rule_paths: dict[str, Path] = {}
        for i, rule in enumerate(config.sales_rules):
            self._rule_paths.setdefault(rule.id, ("sales_rules", i, "when"))
        self._rules: dict[str, Node] = {}
        self._depths: dict[str, int] = {}  # rule id -> how deep its criteria nest
        self._chain_too_deep = False  # a too-deep chain of sales rules was reported
        self._resolving: list[str] = []
        self.fields: set[str] = set()
        self.numbers: set[str] = set()
        self.dates: set[str] = set()
        self.kept: set[str] = set()  # fields a regex reads: their text as written
        self.nodes: dict[Path, Node] = {}
        self.field_refs: list[tuple[str, Path]] = []  # each field name as written, and where
        self.customer_values = CustomerValues(config, sourcemap)
        for path, block in criteria_blocks(config):
            if path[0] == "sales_rules":
                rule_id = config.sales_rules[int(path[1])].id
                if self._rule_paths[rule_id] == path:
                    self.rule(rule_id, path)
            else:
                self.nodes[path] = self._deep(parse(block, path, self), path, "the criteria")
        for i, territory in enumerate(config.territories):
            for j, rule_id in enumerate(territory.rules):
                self.rule(rule_id, ("territories", i, "rules", j))
        self.schema = FactSchema(
            config.settings.fields, self.fields, self.numbers, self.dates, self.case_sensitive,
            self.kept,
        )

    # -- public helpers -------------------------------------------------------

    def node(self, path: Path) -> Node:
        """The parsed node of the block at ``path`` (an absent block always holds)."""
        return self.nodes.get(path, ALWAYS)

    def rule(self, rule_id: str, path: Path) -> Node:
        """The node of a named sales rule (``path`` is where it is referenced)."""
        if rule_id in self._rules:
            return self._rules[rule_id]
        if rule_id in self._resolving:
            loop = " -> ".join([*self._resolving[self._resolving.index(rule_id):], rule_id])
            self.problem(path, "rule-cycle", f"sales rules refer to each other in a loop: {loop}")
            return NEVER
        if rule_id not in self._rule_paths:
            hint = did_you_mean(rule_id, self._rule_paths)
            self.problem(path, "unknown-rule", f"unknown sales rule '{rule_id}'{hint}")
            return NEVER
        if len(self._resolving) >= MAX_CRITERIA_DEPTH:  # before Python's stack overflows
            if not self._chain_too_deep:  # one long chain, one problem
                chain = f"{self._resolving[0]} -> ... -> {rule_id}"
                self.problem(path, "too-deep", f"sales rules refer to each other more than "
                             f"{MAX_CRITERIA_DEPTH} deep ({chain}): the limit is "
                             f"{MAX_CRITERIA_DEPTH}")
            self._chain_too_deep = True
            return NEVER
        rule_path = self._rule_paths[rule_id]
        self._resolving.append(rule_id)
        block = self.config.sales_rules[int(rule_path[1])].when
        node = self._deep(parse(block, rule_path, self), rule_path,
                          f"the criteria of sales rule '{rule_id}'", rule_id)
        self._resolving.pop()
        self._rules[rule_id] = node
        self.nodes[rule_path] = node
        return node

    def _deep(self, node: Node, path: Path, what: str, rule_id: str | None = None) -> Node:
        """``node``, with a ``too-deep`` problem when it nests past the limit (once: not
        again for what refers to a rule already reported)."""
        found, through = depth(node, self._depths)
        if rule_id is not None:
            self._depths[rule_id] = found
            through = through or self._chain_too_deep
        if found > MAX_CRITERIA_DEPTH and not through:
            self.problem(path, "too-deep", too_deep_message(what, found))
            self._chain_too_deep = self._chain_too_deep or rule_id is not None
        return node

    def forget_sources(self) -> None:
        """Let go of the source map once everything is parsed (a loaded engine): it
        places every YAML node, 13 MiB at 10,000 territories, and a run reads none."""
        self.sourcemap = _Unplaced()

    def facts(self, record: Mapping[str, Any]) -> Facts:
        """The facts of one record under this configuration."""
        return Facts(record, self.schema)

    def problem(self, path: Path, code: str, message: str, key: bool = False) -> None:
        """Record an error at the position of ``path`` (of its key with ``key``, when
        the source map knows key positions)."""
        at = getattr(self.sourcemap, "key_at", self.sourcemap.at) if key else self.sourcemap.at
        file, line, column = at(path)
        if (file, line, column) in getattr(self.sourcemap, "refused", ()):
            return  # the value was refused when read (a tag, a huge number): said once
        self.problems.append(Problem(file, line, column, "error", code, message))

    def known_values(self, name: str, values: list[Any], path: Path, each: bool = False) -> None:
        """Report a status or stage no customer has (:mod:`.customers`)."""
        for problem in self.customer_values.check(name, values, path, each, self.text):
            self.problem(*problem)

    # -- value normalisation --------------------------------------------------

    def text(self, value: Any) -> str:
        """A scalar as criteria compare it: its text, trimmed, folded unless case-sensitive."""
        if isinstance(value, bool):
            out = "true" if value else "false"
        elif isinstance(value, date):
            out = value.isoformat()
        else:  # a number as written in the YAML (1.50, +5), not as Python prints it
            out = getattr(value, "written", None) or str(value).strip()
        return out if self.case_sensitive else out.lower()

    def field(self, name: str) -> str:
        """The canonical internal name of a field written in criteria."""
        return self._names.canonical(name)


def check_config(config: Config, sourcemap: SourceMapLike) -> list[Problem]:
    """Parse every criteria block of ``config``; return the problems found."""
    return CriteriaContext(config, sourcemap).problems


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, date))


def parse(block: Any, path: Path, ctx: CriteriaContext) -> Node:
    """Parse one criteria block (a mapping whose entries must all hold) into a node."""
    if not isinstance(block, Mapping):
        ctx.problem(path, "wrong-type", f"criteria must be a mapping, not {_kind(block)}")
        return NEVER
    nodes: list[Node] = []
    for key, value in block.items():
        here = (*path, key)
        if key in ("any", "all"):
            nodes.append(_group(str(key), value, here, ctx))
        elif key == "not":
            nodes.append(Not(parse(value, here, ctx)))
        elif key == "rule":
            ids = value if isinstance(value, list) else [value]
            if not ids:  # no rule to hold would hold for every record
                ctx.problem(here, "wrong-type",
                            "rule takes a sales rule id or a non-empty list of them, not an empty list")
                nodes.append(NEVER)
            for i, rule_id in enumerate(ids):
                where = (*here, i) if isinstance(value, list) else here
                if not isinstance(rule_id, (str, int)) or isinstance(rule_id, bool):
                    ctx.problem(where, "wrong-type", f"rule must be a sales rule id, not {_kind(rule_id)}")
                    nodes.append(NEVER)
                    continue
                nodes.append(RuleRef(str(rule_id), ctx.rule(str(rule_id), where)))
        elif not isinstance(key, str) or not key.strip():
            ctx.problem(here, "wrong-type", "a field name must be non-empty text")
            nodes.append(NEVER)
        else:
            ctx.field_refs.append((key, here))
            nodes.append(_field(ctx.field(key), value, here, ctx))
    return nodes[0] if len(nodes) == 1 else All(tuple(nodes))


def _group(key: str, value: Any, path: Path, ctx: CriteriaContext) -> Node:
    if not isinstance(value, list) or not value:
        ctx.problem(path, "wrong-type", f"'{key}' takes a non-empty list of criteria blocks, not {_kind(value)}")
        return NEVER
    nodes = tuple(parse(item, (*path, i), ctx) for i, item in enumerate(value))
    return All(nodes) if key == "all" else Any_(nodes)


def _field(name: str, value: Any, path: Path, ctx: CriteriaContext) -> Node:
    ctx.fields.add(name)
    if isinstance(value, Mapping):
        if not value:
            ctx.problem(path, "wrong-type", f"'{name}': an operator mapping cannot be empty")
            return NEVER
        tests = [_operator(name, str(op), arg, (*path, op), ctx) for op, arg in value.items()]
        return tests[0] if len(tests) == 1 else All(tuple(tests))
    if isinstance(value, list):
        return _operator(name, "in", value, path, ctx)
    return _operator(name, "eq", value, path, ctx)


def _operator(name: str, op: str, arg: Any, path: Path, ctx: CriteriaContext) -> Node:
    def wrong(expected: str) -> Node:
        ctx.problem(path, "wrong-type", f"'{name}': {op} takes {expected}, not {_kind(arg)}")
        return NEVER

    if op in ("eq", "ne"):
        if not _scalar(arg):
            return wrong("a single value")
        if _blanks(name, op, arg, path, ctx):
            return NEVER
        ctx.known_values(name, [arg], path)
        return Test(name, op, ctx.text(arg), written=_as_written(arg))
    if op in ("in", "not_in", "prefix"):
        items = arg if isinstance(arg, list) else [arg]
        if not items or not all(_scalar(item) for item in items):
            return wrong("a value or a list of values")
        if op != "prefix" and _blanks(name, op, arg, path, ctx):
            return NEVER
        if op != "prefix":
            ctx.known_values(name, items, path, each=isinstance(arg, list))
        return Test(name, op, tuple(ctx.text(item) for item in items),
                    written=tuple(_as_written(item) for item in items))
    if op == "regex":
        return _regex(name, arg, path, ctx) if isinstance(arg, str) else wrong(
            "a regular expression (text)")
    if op == "exists":
        return Test(name, op, arg) if isinstance(arg, bool) else wrong("true or false")
    if op == "between":
        return _between(name, arg, path, ctx)
    if op in ("gt", "gte", "lt", "lte"):
        if not _scalar(arg) or isinstance(arg, bool):
            return wrong("a number, a date or a text")
        kind, bound = _bound(arg, ctx)
        if kind == "text" and (why := misread_bound(name, op, arg)):
            ctx.problem(path, "wrong-type", why)
            return NEVER
        _note_kind(name, kind, ctx)
        return Test(name, op, bound, kind, written=_as_written(arg))
    # `{gte: 1,000}` reads as {gte: 1, "000": null}
    hint = (" (numbers are written without thousands separators: 1000, not 1,000)"
            if op.isdigit() and arg is None else did_you_mean(op, OPERATORS))
    ctx.problem(path, "unknown-operator", f"'{name}': unknown operator '{op}'{hint}", key=True)
    return NEVER


def _regex(name: str, arg: str, path: Path, ctx: CriteriaContext) -> Node:
    flags = 0 if ctx.case_sensitive else re.IGNORECASE
    try:
        pattern = GuardedPattern(arg, flags)
    except (re.error, RecursionError) as error:  # re's parser recurses per group
        why = error if isinstance(error, re.error) else "its groups nest too deep"
        ctx.problem(path, "bad-regex", f"'{name}': bad regex {arg!r}: {why}")
        return NEVER
    unsafe = unsafe_reason(arg, flags)
    if unsafe is not None:
        ctx.problem(path, "unsafe-regex", f"'{name}': regex {arg!r} can take exponential "
                    f"time on some values ({unsafe}); rewrite it without that (for example "
                    "'(a+)+' as 'a+', '(a|aa)+' as 'a+')")
        return NEVER
    ctx.kept.add(name)
    return Test(name, "regex", pattern)


def _between(name: str, arg: Any, path: Path, ctx: CriteriaContext) -> Node:
    if (
        not isinstance(arg, list)
        or len(arg) != 2
        or not all(_scalar(x) and not isinstance(x, bool) for x in arg)
    ):
        ctx.problem(path, "bad-between", f"'{name}': between takes two values [low, high], not {arg!r}")
        return NEVER
    (kind_lo, low), (kind_hi, high) = _bound(arg[0], ctx), _bound(arg[1], ctx)
    for i, (kind, x) in enumerate(((kind_lo, arg[0]), (kind_hi, arg[1]))):
        if kind == "text" and (why := misread_bound(name, "between", x)):
            ctx.problem((*path, i), "wrong-type", why)  # the first one, as any() stopped
            return NEVER
    if kind_lo != kind_hi:  # e.g. a number and a text: compare both as text (SPEC §3)
        kind_lo = kind_hi = "text"
        low, high = ctx.text(arg[0]), ctx.text(arg[1])
    if low > high:
        ctx.problem(path, "bad-between", f"'{name}': between low bound {arg[0]!r} exceeds high bound {arg[1]!r}")
        return NEVER
    _note_kind(name, kind_lo, ctx)
    return Test(name, "between", (low, high), kind_lo, written=tuple(_as_written(x) for x in arg))


def _as_written(value: Any) -> Any:
    """A rule file's value as a trace shows it: numbers as numbers, the rest as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _bound(value: Any, ctx: CriteriaContext) -> tuple[str, Any]:
    """How an ordered comparison bound compares: as a number, an ISO date or text."""
    if is_number(value):
        return "number", value
    if isinstance(value, date):
        return "date", value.isoformat()
    if isinstance(value, str) and len(value.strip()) == 10 and parse_iso_date(value.strip()):
        return "date", value.strip()
    return "text", ctx.text(value)


def _blanks(name: str, op: str, arg: Any, path: Path, ctx: CriteriaContext) -> bool:
    """Whether ``arg`` (a value or a list) holds a blank value, each one reported."""
    found = False
    for i, item in enumerate(arg if isinstance(arg, list) else [arg]):
        if blank := empty_value(name, op, item, entry=isinstance(arg, list)):
            ctx.problem((*path, i) if isinstance(arg, list) else path, "invalid-value", blank)
            found = True
    return found


def _note_kind(name: str, kind: str, ctx: CriteriaContext) -> None:
    if kind == "number":
        ctx.numbers.add(name)
    elif kind == "date":
        ctx.dates.add(name)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return repr(value)
