"""Static checks of the rules (SPEC §15): what ``sfa validate`` proves about them.

``check(config, sourcemap)`` returns warnings (``--strict`` makes them errors), each
from one small function of ``CHECKS``. The criteria checks work on exact regions
(:mod:`regions`): a territory is reported as shadowed only when the territories tried
before it provably match every record it matches, and two territories as ambiguous only
with an example record that really matches both. Criteria the algebra cannot decide
(``regex``) are named once (``not-analysed``, severity ``info``) and never lead to a
claim: such a territory is never reported, and covers nothing it might not match. A
territory whose subtraction exceeds the work cap (:data:`analysis_scan.MAX_WORK`) is
named and left out the same way, and so, in one note, are the territories past the
whole check's limit (``settings.analysis_limit``).

Choices where SPEC is silent: a parent contributes its criteria (not its ``active`` or
``effective``); an inactive territory is neither reported nor covers anything; the
default territory is left out of the shadowing and ambiguity checks (it also takes the
records whose territories have no eligible member).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from sfa_rules.analysis.atoms import DATE_FIELD, Unknown, partitions, tests_of
from sfa_rules.analysis.regions import Algebra, Approx, Regions
from sfa_rules.analysis.scan import AmbiguityScan, Findings, shadow_scan
from sfa_rules.analysis.statuses import probability_not_monotonic, unreachable_statuses
from sfa_rules.config.models import Config, Territory
from sfa_rules.config.order import try_order
from sfa_rules.criteria.ir import CriteriaContext, SourceMapLike, compile
from sfa_rules.criteria.nodes import ALWAYS, All, Any_, Node, RuleRef, Test
from sfa_rules.errors import Problem

Path = tuple[str | int, ...]
MAX_NAMED = 3  # shadowing territories named in one message


class Analysis:
    """One configuration under analysis: its criteria parsed once, regions built lazily."""

    def __init__(self, config: Config, sourcemap: SourceMapLike,
                 ctx: CriteriaContext | None = None) -> None:
        self.config = config
        self.sourcemap = sourcemap
        self.ctx = ctx if ctx is not None else CriteriaContext(config, sourcemap)
        self._predicates: dict[int, Callable[[Any], bool]] = {}

    def problem(self, path: Path, code: str, message: str, severity: str = "warning") -> Problem:
        """A problem at the position of ``path``."""
        file, line, column = self.sourcemap.at(path)
        return Problem(file, line, column, severity, code, message)

    # -- criteria as regions ------------------------------------------------------

    @cached_property
    def territory_nodes(self) -> list[Node]:
        """Each territory's criteria, its parents' included, and its effective window."""
        territories = self.config.territories
        first = {t.id: i for i, t in reversed(list(enumerate(territories)))}
        own = [self._own(i, t) for i, t in enumerate(territories)]
        full: dict[int, Node] = {}

        def resolve(i: int, seen: frozenset[int]) -> Node:
            if i not in full:
                parent = territories[i].parent
                p = first.get(parent) if parent is not None else None
                if p is None:
                    full[i] = own[i]
                else:  # a parent loop is a `checks` error: claim nothing about it
                    full[i] = All((own[i], Any_(()) if p in seen else resolve(p, seen | {i})))
            return full[i]

        out = []
        for i, t in enumerate(territories):
            window = _window(t)
            out.append(resolve(i, frozenset()) if not window else All((resolve(i, frozenset()), *window)))
        return out

    def _own(self, i: int, t: Territory) -> Node:
        parts: list[Node] = [
            RuleRef(r, self.ctx.rule(r, ("territories", i, "rules", j))) for j, r in enumerate(t.rules)
        ]
        if t.when is not None:
            parts.append(self.ctx.node(("territories", i, "when")))
        if not parts:
            return ALWAYS
        if len(parts) == 1:
            return parts[0]
        return All(tuple(parts)) if t.match == "all" else Any_(tuple(parts))

    @cached_property
    def override_nodes(self) -> list[Node]:
        """Each override's criteria."""
        return [self.ctx.node(("assignment", "overrides", i, "when"))
                for i in range(len(self.config.assignment.overrides))]

    @cached_property
    def regions(self) -> Regions:
        """Region conversion over the partitions of every territory and override."""
        nodes = [*self.territory_nodes, *self.override_nodes]
        parts = partitions(nodes, self.config.settings.case_sensitive)
        return Regions(Algebra(parts))

    @cached_property
    def territory_regions(self) -> list[Approx | None]:
        """Each territory's region (None: inactive, or the default territory)."""
        dated = "created" in {t.field for n in self.territory_nodes for t in tests_of(n)}
        out: list[Approx | None] = []
        for t, node in zip(self.config.territories, self.territory_nodes):
            if not t.active or t.default:
                out.append(None)
                continue
            approx = self._approx(node)
            if dated and t.effective is not None:
                # The record's date is `created` when present: the two are not
                # independent, which the boxes cannot say.
                why = "its effective window and criteria on 'created' both read the record's date"
                approx = Approx([], approx.upper, (*approx.reasons, why))
            out.append(approx)
        return out

    def _approx(self, node: Node) -> Approx:
        try:
            return self.regions.of(node)
        except Unknown as unknown:  # too complex: claim nothing
            return Approx([], [{}], (unknown.reason,))

    @cached_property
    def territory_order(self) -> list[int]:
        """Non-default territories in try order (routing's: :func:`config.order.try_order`)."""
        return try_order(self.config.territories)

    @cached_property
    def territory_findings(self) -> Findings:
        """Shadowed, not-analysed and ambiguous territories."""
        order, approx = self.territory_order, self.territory_regions
        ambiguity = AmbiguityScan(self.config.territories, order, approx, self.regions, self.matches)
        return shadow_scan(order, approx, self.regions.algebra, self.config.settings.analysis_limit,
                           then=ambiguity)

    @cached_property
    def override_findings(self) -> Findings:
        """Shadowed and not-analysed overrides."""
        approx: list[Approx | None] = [self._approx(n) for n in self.override_nodes]
        return shadow_scan(list(range(len(approx))), approx, self.regions.algebra,
                           self.config.settings.analysis_limit)

    # -- concrete evaluation (for examples next to criteria the algebra cannot decide)

    def matches(self, example: Mapping[str, str]) -> Callable[[int], bool]:
        """A test of whether territory ``i`` matches the example record (its date as
        ``created``), the record's facts built once for every territory tried."""
        facts = self.ctx.facts(
            {("created" if k == DATE_FIELD else k): v for k, v in example.items()})
        predicates, nodes = self._predicates, self.territory_nodes

        def test(i: int) -> bool:
            if i not in predicates:  # compiled on demand: few territories need it
                predicates[i] = compile(_dated(nodes[i])).test
            return predicates[i](facts)
        return test

    @cached_property
    def originals(self) -> dict[str, str]:
        """Folded text -> as the configuration writes it (for readable examples)."""
        out: dict[str, str] = {}
        blocks: list[Any] = [r.when for r in self.config.sales_rules]
        blocks += [t.when for t in self.config.territories]
        blocks += [o.when for o in self.config.assignment.overrides]
        blocks += list(self.config.settings.domains.values())
        for value in _scalars(blocks):
            out.setdefault(self.ctx.text(value), str(value).strip())
        return out

    def show(self, example: Mapping[str, str]) -> str:
        """``{country: US, state: CA}``."""
        items = [f"{'created' if k == DATE_FIELD else k}: {self.originals.get(v, v)}"
                 for k, v in example.items()]
        return "{" + ", ".join(items) + "}"


def _window(t: Territory) -> tuple[Node, ...]:
    window = t.effective
    if window is None:
        return ()
    tests: list[Node] = []
    if window.from_ is not None:
        tests.append(Test(DATE_FIELD, "gte", window.from_.isoformat(), "date"))
    if window.to is not None:
        tests.append(Test(DATE_FIELD, "lte", window.to.isoformat(), "date"))
    return tuple(tests)


def _dated(node: Node) -> Node:
    """``node`` with the record's date read from ``created`` (for concrete checks)."""
    if isinstance(node, Test):
        return Test("created", node.op, node.value, node.kind) if node.field == DATE_FIELD else node
    if isinstance(node, All):
        return All(tuple(_dated(n) for n in node.nodes))
    return node  # windows only ever sit in a top-level All


def _scalars(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield value


def _named(analysis: Analysis, covers: list[int], noun: str) -> str:
    if not covers:
        return "its criteria hold for no record"
    territories, overrides = analysis.config.territories, analysis.config.assignment.overrides
    shown = [f"'{territories[j].id}' (priority {territories[j].priority})" if noun == "territory"
             else f"override '{overrides[j].id}'" for j in covers[:MAX_NAMED]]
    if len(covers) == 1:
        return f"{shown[0]} matches every record it matches"
    more = len(covers) - len(shown)
    listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if not more else ", ".join(shown) + f" and {more} more"
    return f"{listed} together match every record it matches"


class _Staffing:
    """Which reps can always take a record (active, never away, no capacity) and which
    territories always have one of them: a record passes over a territory (or an
    override) only when it has nobody eligible, so only those cover what comes after."""

    def __init__(self, config: Any) -> None:
        self.reps = {r.id for r in config.reps if r.always_eligible}
        self.territories = {t.id for t in config.territories
                            if any(m.rep in self.reps for m in t.members)}

    def override(self, o: Any) -> bool:
        target = o.assign_to
        return target.rep in self.reps if target.rep is not None \
            else target.territory in self.territories


def shadowed_territories(analysis: Analysis) -> Iterator[Problem]:
    """A territory that can never match: those tried before it match all its records,
    and always have a member who can take them (else records fall through to it)."""
    territories, staffed = analysis.config.territories, _Staffing(analysis.config)
    for i, covers in analysis.territory_findings.shadowed.items():
        if not all(territories[j].id in staffed.territories for j in covers):
            continue
        yield analysis.problem(("territories", i), "shadowed-territory",
                               f"territory '{territories[i].id}' can never match: "
                               f"{_named(analysis, covers, 'territory')}")


def shadowed_overrides(analysis: Analysis) -> Iterator[Problem]:
    """An override that can never match: the overrides before it match all its records,
    and their rep (or territory) can always take them."""
    overrides, staffed = analysis.config.assignment.overrides, _Staffing(analysis.config)
    for i, covers in analysis.override_findings.shadowed.items():
        if not all(staffed.override(overrides[j]) for j in covers):
            continue
        yield analysis.problem(("assignment", "overrides", i), "shadowed-override",
                               f"override '{overrides[i].id}' can never match: "
                               f"{_named(analysis, covers, 'override')}")


def ambiguous_territories(analysis: Analysis) -> Iterator[Problem]:
    """Two territories at one priority that both match a record: file order decides."""
    territories = analysis.config.territories
    for a, b, example in analysis.territory_findings.ambiguous:
        yield analysis.problem(
            ("territories", b), "ambiguous-territories",
            f"territories '{territories[a].id}' and '{territories[b].id}' (priority "
            f"{territories[b].priority}) both match {analysis.show(example)}: only file order "
            f"decides ('{territories[a].id}' wins)")


def not_analysed(analysis: Analysis) -> Iterator[Problem]:
    """Territories and overrides whose criteria the checks cannot reason about."""
    lists: list[tuple[str, Path, Findings, Iterable[Any]]] = [
        ("territory", ("territories",), analysis.territory_findings, analysis.config.territories),
        ("override", ("assignment", "overrides"), analysis.override_findings,
         analysis.config.assignment.overrides),
    ]
    for noun, base, findings, items in lists:
        items = list(items)
        for i, reasons in sorted(findings.not_analysed.items()):
            said = [r for r in reasons if r]
            if said:
                yield analysis.problem((*base, i), "not-analysed",
                                       f"{noun} '{items[i].id}' is not analysed: {'; '.join(said)}",
                                       severity="info")
        if findings.stopped:
            yield _stopped(analysis, noun, base, findings.stopped, items)


def _stopped(analysis: Analysis, noun: str, base: Path, stopped: list[int],
             items: list[Any]) -> Problem:
    """One note, at the first item the analysis did not reach, for all of them."""
    first = stopped[0]
    more = len(stopped) - 1
    nouns = "territories" if noun == "territory" else "overrides"
    after = f" and the {more:,} {nouns} tried after it are" if more else " is"
    limit = analysis.config.settings.analysis_limit
    return analysis.problem(
        (*base, first), "not-analysed",
        f"{noun} '{items[first].id}'{after} not analysed: the analysis reached its limit of "
        f"{limit:,} comparisons (settings.analysis_limit; raise it to analyse them, at "
        f"about half a second per million)", severity="info")


def uncovered_values(analysis: Analysis) -> Iterator[Problem]:
    """Values of ``settings.domains`` that no active non-default territory can match."""
    alg = analysis.regions.algebra
    uppers = [a.upper for a in analysis.territory_regions if a is not None]
    for name, values in analysis.config.settings.domains.items():
        key = analysis.ctx.field(name)
        part = alg.parts.get(key)
        reach = 0
        for region in uppers:
            for box in region:
                reach |= box.get(key, -1)
        missing = [v for v in values
                   if not reach or part is not None and not reach >> part.locate_text(v) & 1]
        if missing:
            listed = ", ".join(f"'{v}'" for v in missing)
            yield analysis.problem(("settings", "domains", name), "uncovered-values",
                                   f"no territory covers {name} {listed}")


def idle_reps(analysis: Analysis) -> Iterator[Problem]:
    """Reps that no territory, override or default owner refers to, and that nobody
    reports to (a manager, `sells: false` or not, is never idle)."""
    config = analysis.config
    used = {m.rep for t in config.territories for m in t.members}
    used |= {o.assign_to.rep for o in config.assignment.overrides if o.assign_to.rep}
    used |= {r.manager for r in config.reps if r.manager is not None}
    if config.assignment.default_owner is not None:
        used.add(config.assignment.default_owner.rep)
    for i, rep in enumerate(config.reps):
        if rep.id in used:
            continue
        what = ("takes no records (sells: false) and nobody reports to them" if not rep.sells
                else "is in no territory, override or default owner")
        yield analysis.problem(("reps", i), "idle-rep", f"rep '{rep.id}' {what}")


def territories_without_members(analysis: Analysis) -> Iterator[Problem]:
    """Active territories (the default one included) with no active member rep."""
    active = {r.id for r in analysis.config.reps if r.active}
    owner = analysis.config.assignment.default_owner
    last = f"the default owner '{owner.rep}'" if owner else "nobody (no default owner)"
    for i, t in enumerate(analysis.config.territories):
        if t.active and not any(m.rep in active for m in t.members):
            then = last if t.default else "the next matching territory"
            yield analysis.problem(("territories", i), "territory-without-members",
                                   f"territory '{t.id}' has no active member: its records go "
                                   f"on to {then}")


Check = Callable[[Analysis], Iterable[Problem]]
_ROUTING = frozenset({"territories", "sales_rules", "settings"})
_STATUSES = frozenset({"statuses", "lifecycle", "opportunity_statuses", "follow_ups",
                       "settings"})
# Each check, and the sections whose contents its proofs rest on.
CHECKS: tuple[tuple[Check, frozenset[str]], ...] = (
    (shadowed_territories, _ROUTING | {"reps"}),
    (shadowed_overrides, _ROUTING | {"reps", "assignment"}),
    (ambiguous_territories, _ROUTING),
    (not_analysed, _ROUTING | {"assignment"}),
    (uncovered_values, _ROUTING),
    (unreachable_statuses, _STATUSES),
    (idle_reps, frozenset({"reps", "territories", "assignment"})),
    (territories_without_members, frozenset({"reps", "territories", "assignment"})),
    (probability_not_monotonic, _STATUSES),
)


def check(config: Config, sourcemap: SourceMapLike,
          ctx: CriteriaContext | None = None,
          broken: frozenset[str] = frozenset()) -> list[Problem]:
    """Every warning the static checks prove about ``config``, sorted by position; the
    checks that read a ``broken`` section (one with errors: what it holds is not all
    loaded) are not run, as their proofs would rest on part of it."""
    analysis = Analysis(config, sourcemap, ctx)
    return sorted(p for run, reads in CHECKS if not reads & broken for p in run(analysis))
