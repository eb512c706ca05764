"""Semantic checks of a loaded configuration: ids, references, NetSuite's rules.

Each check is a small function ``(config, sourcemap) -> Iterator[Problem]`` whose
docstring is its user documentation; :data:`CHECKS` lists them in the order they run.
Criteria-level problems (operators, regexes, named rules in ``rules:`` and ``rule:``)
belong to :mod:`sfa_rules.criteria`; the proofs of SPEC §15 to :mod:`sfa_rules.analysis`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sfa_rules.config.chains import loops
from sfa_rules.config.eventchecks import CHECKS as EVENT_CHECKS
from sfa_rules.config.followupchecks import CHECKS as FOLLOW_UP_CHECKS
from sfa_rules.config.importchecks import IMPORT_CHECKS
from sfa_rules.config.loader import SourceMap
from sfa_rules.config.matchingchecks import CHECKS as MATCHING_CHECKS
from sfa_rules.config.models import Config, StatusMatch, ToDefault
from sfa_rules.config.teamchecks import CHECKS as TEAM_CHECKS
from sfa_rules.config.territorychecks import CHECKS as TERRITORY_CHECKS
from sfa_rules.config.yamlread import Path
from sfa_rules.errors import Problem, did_you_mean

# A territory's criteria include its parents', nested one level each: past this many
# the chain is refused (too-deep) rather than compiled into ever deeper criteria.
MAX_PARENTS = 20

Check = Callable[[Config, SourceMap], Iterator[Problem]]


def _ids(items: Iterable[Any]) -> list[str]:
    return [item.id for item in items]


def _id_lists(config: Config) -> Iterator[tuple[str, Path, list[str]]]:
    """(noun, path of the list, ids) of every list whose items carry an id."""
    yield "sales rule", ("sales_rules",), _ids(config.sales_rules)
    yield "status", ("statuses",), _ids(config.statuses)
    yield "opportunity status", ("opportunity_statuses",), _ids(config.opportunity_statuses)
    yield "rep", ("reps",), _ids(config.reps)
    yield "territory", ("territories",), _ids(config.territories)
    yield "override", ("assignment", "overrides"), _ids(config.assignment.overrides)
    yield "transition", ("lifecycle", "transitions"), _ids(config.lifecycle.transitions)
    yield "import", ("imports",), _ids(config.imports)
    yield "follow-up", ("follow_ups",), _ids(config.follow_ups)


def duplicate_ids(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``duplicate-id``: an id used twice in one list (in one file or two).

    Reported at the second one, naming the first. Ids compare exactly. An item of a
    top-level list left out for its own errors (its id valid) still holds its id: a copy
    of it elsewhere is reported too.
    """
    order = {file: n for n, file in enumerate(sm.files)}
    for noun, base, ids in _id_lists(config):
        places = [(sm.at(base + (i, "id")), item_id) for i, item_id in enumerate(ids)]
        dropped = sm.dropped.get(str(base[0]), []) if len(base) == 1 else []
        if dropped:  # a top-level list lost some items
            places += [((file, *_id_at(sm, file, (*base, i, "id"))), item_id)
                       for file, i, item_id in dropped]
            places.sort(key=lambda p: (order.get(p[0][0], 0), p[0][1], p[0][2]))
        first: dict[str, tuple[str, int, int]] = {}
        for (file, line, col), item_id in places:
            if item_id not in first:
                first[item_id] = (file, line, col)
                continue
            f, fl, fc = first[item_id]
            yield Problem(file, line, col, "error", "duplicate-id",
                          f"duplicate {noun} id '{item_id}' (first defined at {f}:{fl}:{fc})")


def _id_at(sm: SourceMap, file: str, path: Path) -> tuple[int, int]:
    positions = sm.positions.get(file)
    found = positions.at(path) if positions is not None else None
    return (found[0], found[1]) if found is not None else (1, 1)


class _Refs:
    """Resolves references of one kind; ids of items dropped for errors count as known."""

    def __init__(self, sm: SourceMap, code: str, noun: str, ids: Iterable[str],
                 invalid: Iterable[str]) -> None:
        self.sm, self.code, self.noun = sm, code, noun
        self.ids = list(dict.fromkeys(ids))
        self.known = set(self.ids) | set(invalid)

    def check(self, ref: str | None, path: Path, owner: str = "") -> Iterator[Problem]:
        if ref is None or ref in self.known:
            return
        hint = did_you_mean(ref, self.ids)
        prefix = f"{owner}: " if owner else ""
        yield self.sm.problem(path, self.code, f"{prefix}unknown {self.noun} '{ref}'{hint}")


def _reps(config: Config, sm: SourceMap) -> _Refs:
    return _Refs(sm, "unknown-rep", "rep", _ids(config.reps), sm.invalid_ids["reps"])


def _territories(config: Config, sm: SourceMap) -> _Refs:
    return _Refs(sm, "unknown-territory", "territory", _ids(config.territories),
                 sm.invalid_ids["territories"])


def _statuses(config: Config, sm: SourceMap) -> _Refs:
    return _Refs(sm, "unknown-status", "status", _ids(config.statuses),
                 sm.invalid_ids["statuses"])


def rep_references(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unknown-rep``: a territory member, override target or default owner that is
    not a rep."""
    reps = _reps(config, sm)
    for i, territory in enumerate(config.territories):
        for j, member in enumerate(territory.members):
            yield from reps.check(member.rep, ("territories", i, "members", j, "rep"),
                                  f"territory '{territory.id}'")
    for i, override in enumerate(config.assignment.overrides):
        yield from reps.check(override.assign_to.rep,
                              ("assignment", "overrides", i, "assign_to", "rep"),
                              f"override '{override.id}'")
    owner = config.assignment.default_owner
    if owner is not None:
        yield from reps.check(owner.rep, ("assignment", "default_owner", "rep"), "default_owner")


def territory_references(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unknown-territory``: a `parent` or an override target that is not a territory."""
    territories = _territories(config, sm)
    for i, territory in enumerate(config.territories):
        yield from territories.check(territory.parent, ("territories", i, "parent"),
                                     f"territory '{territory.id}': parent")
    for i, override in enumerate(config.assignment.overrides):
        yield from territories.check(override.assign_to.territory,
                                     ("assignment", "overrides", i, "assign_to", "territory"),
                                     f"override '{override.id}'")


def _match_refs(refs: _Refs, match: StatusMatch | None, path: Path,
                owner: str) -> Iterator[Problem]:
    if match is not None and match.status is not None:
        for k, status in enumerate(match.status):
            yield from refs.check(status, path + ("status", k), owner)


def status_references(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unknown-status``: a status named by `lifecycle.defaults`, a transition's `from`
    or `to`, a manual change, or an opportunity status's `customer_status` that is not
    one of `statuses`."""
    statuses = _statuses(config, sm)
    defaults = config.lifecycle.defaults
    for slot in type(defaults).model_fields:
        yield from statuses.check(getattr(defaults, slot), ("lifecycle", "defaults", slot),
                                  f"lifecycle.defaults.{slot}")
    for i, transition in enumerate(config.lifecycle.transitions):
        path: Path = ("lifecycle", "transitions", i)
        owner = f"transition '{transition.id}'"
        yield from _match_refs(statuses, transition.from_, path + ("from",), owner)
        if isinstance(transition.to, str):
            yield from statuses.check(transition.to, path + ("to",), owner)
    for i, change in enumerate(config.lifecycle.manual.changes):
        path = ("lifecycle", "manual", "changes", i)
        yield from _match_refs(statuses, change.from_, path + ("from",), "manual change")
        yield from _match_refs(statuses, change.to, path + ("to",), "manual change")
    for i, opp in enumerate(config.opportunity_statuses):
        yield from statuses.check(opp.customer_status,
                                  ("opportunity_statuses", i, "customer_status"),
                                  f"opportunity status '{opp.id}': customer_status")


def default_slots(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unset-default``: a transition goes to `{default: slot}` but
    `lifecycle.defaults` leaves that slot unset."""
    defaults = config.lifecycle.defaults
    for i, transition in enumerate(config.lifecycle.transitions):
        if isinstance(transition.to, ToDefault) and getattr(defaults, transition.to.default) is None:
            yield sm.problem(
                ("lifecycle", "transitions", i, "to", "default"), "unset-default",
                f"transition '{transition.id}' goes to default slot "
                f"'{transition.to.default}', which lifecycle.defaults does not set",
            )


def probabilities(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``bad-probability``: a probability outside 0-100 (statuses, opportunity statuses,
    `forecast.minimum_probability`). ``lead-probability``: a lead-stage status above 0%
    (NetSuite's rule)."""
    for i, status in enumerate(config.statuses):
        if not 0 <= status.probability <= 100:
            yield sm.problem(("statuses", i, "probability"), "bad-probability",
                             f"status '{status.id}': probability must be 0-100, "
                             f"got {status.probability}")
        elif status.stage == "lead" and status.probability > 0:
            yield sm.problem(("statuses", i, "probability"), "lead-probability",
                             f"lead status '{status.id}' must have probability 0, "
                             f"got {status.probability}")
    for i, opp in enumerate(config.opportunity_statuses):
        if not 0 <= opp.probability <= 100:
            yield sm.problem(("opportunity_statuses", i, "probability"), "bad-probability",
                             f"opportunity status '{opp.id}': probability must be 0-100, "
                             f"got {opp.probability}")
    minimum = config.forecast.minimum_probability
    if not 0 <= minimum <= 100:
        yield sm.problem(("forecast", "minimum_probability"), "bad-probability",
                         f"forecast.minimum_probability must be 0-100, got {minimum}")


def default_territories(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``multiple-default-territories``: more than one `default: true` territory.
    ``default-territory-criteria``: the default territory has `rules`, `when` or
    `parent` (it matches what no other territory does, so it takes no criteria)."""
    first: int | None = None
    for i, territory in enumerate(config.territories):
        if not territory.default:
            continue
        if first is None:
            first = i
        else:
            file, line, col = sm.at(("territories", first, "default"))
            yield sm.problem(
                ("territories", i, "default"), "multiple-default-territories",
                f"territory '{territory.id}' is a second default territory "
                f"(the first is '{config.territories[first].id}' at {file}:{line}:{col})",
            )
        for key in ("rules", "when", "parent"):
            if getattr(territory, key):
                yield sm.problem(
                    ("territories", i, key), "default-territory-criteria",
                    f"default territory '{territory.id}' cannot have '{key}': "
                    "it matches the records no other territory takes",
                    key=True,
                )


def parent_cycles(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``parent-cycle``: territories whose `parent` chain loops back (reported once per
    loop, at the first territory of the loop in file order)."""
    territories = config.territories
    for start, order in loops([t.id for t in territories], lambda i: territories[i].parent):
        yield sm.problem(("territories", start, "parent"), "parent-cycle",
                         f"territory parents form a loop: {' -> '.join(order)}")


def parent_depth(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``too-deep``: a territory with more than 20 parents above it (its criteria
    include all of theirs), reported where the chain first goes past the limit."""
    index = {t.id: i for i, t in reversed(list(enumerate(config.territories)))}
    ancestors: dict[int, int] = {}
    for start in range(len(config.territories)):
        chain: list[int] = []  # walked up until a territory whose count is known
        current: int | None = start
        while current is not None and current not in ancestors and current not in chain:
            chain.append(current)
            parent = config.territories[current].parent
            current = index.get(parent) if parent is not None else None
        above = ancestors.get(current, 0) + 1 if current is not None else 0
        for i in reversed(chain):  # a parent loop is parent-cycle's: counted once round
            ancestors[i] = above
            above += 1
    for i, count in ancestors.items():
        if count == MAX_PARENTS + 1:
            yield sm.problem(("territories", i, "parent"), "too-deep",
                             f"territory '{config.territories[i].id}' has more than "
                             f"{MAX_PARENTS} parents above it: the limit is {MAX_PARENTS}")


def default_owner(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``inactive-default-owner``: `assignment.default_owner` is an inactive rep (the
    last resort must be able to receive records)."""
    owner = config.assignment.default_owner
    if owner is None:
        return
    rep = next((r for r in config.reps if r.id == owner.rep), None)
    if rep is not None and not rep.active:
        yield sm.problem(("assignment", "default_owner", "rep"), "inactive-default-owner",
                         f"default_owner '{owner.rep}' is an inactive rep")


def override_targets(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``override-target``: an override's `assign_to` must name exactly one of `rep`
    and `territory`."""
    for i, override in enumerate(config.assignment.overrides):
        target = override.assign_to
        if (target.rep is None) == (target.territory is None):
            how = "both" if target.rep is not None else "neither"
            yield sm.problem(("assignment", "overrides", i, "assign_to"), "override-target",
                             f"override '{override.id}': assign_to must name exactly one of "
                             f"rep and territory, got {how}")


def field_aliases(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``duplicate-alias``: one incoming name listed under two canonical fields of
    `settings.fields` (names compare ignoring case and surrounding blanks)."""
    seen: dict[str, str] = {}
    for canonical, aliases in config.settings.fields.items():
        names = dict.fromkeys([canonical, *aliases])
        for name in names:
            folded = name.strip().casefold()
            other = seen.setdefault(folded, canonical)
            if other != canonical:
                path: Path = ("settings", "fields", canonical)
                if name != canonical:
                    path += (aliases.index(name),)
                yield sm.problem(path, "duplicate-alias",
                                 f"field name '{name}' is listed under both '{other}' and "
                                 f"'{canonical}' in settings.fields", key=name == canonical)


CHECKS: tuple[Check, ...] = (
    duplicate_ids,
    rep_references,
    territory_references,
    status_references,
    default_slots,
    probabilities,
    default_territories,
    parent_cycles,
    parent_depth,
    default_owner,
    override_targets,
    field_aliases,
    *TERRITORY_CHECKS,
    *EVENT_CHECKS,
    *IMPORT_CHECKS,
    *TEAM_CHECKS,
    *FOLLOW_UP_CHECKS,
    *MATCHING_CHECKS,
)


def run(config: Config, sm: SourceMap) -> list[Problem]:
    """Every problem of every check, sorted."""
    return sorted(p for check in CHECKS for p in check(config, sm))
