"""Checks of the sales organisation and quotas (SPEC §17); listed in :mod:`checks`.

Each check is ``(config, sourcemap) -> Iterator[Problem]`` and its docstring is its
user documentation, as in :mod:`sfa_rules.config.checks`.
"""

from __future__ import annotations

from collections.abc import Iterator

from sfa_rules.config.chains import loops
from sfa_rules.config.loader import SourceMap
from sfa_rules.config.models import Config
from sfa_rules.config.teams import Hierarchy, name_key, parse_period
from sfa_rules.config.yamlread import Path
from sfa_rules.errors import Problem, did_you_mean


class _Reps:
    """Which rep ids exist (those of reps dropped for their own errors included)."""

    def __init__(self, config: Config, sm: SourceMap) -> None:
        self.sm = sm
        self.ids = [r.id for r in config.reps]
        self.known = set(self.ids) | sm.invalid_ids["reps"]
        self.named = {name_key(r.name): r.id for r in config.reps if r.name}

    def check(self, ref: str, path: Path, owner: str) -> Iterator[Problem]:
        if ref not in self.known:
            named = self.named.get(name_key(ref))  # a rep's name where its id belongs
            hint = f" (did you mean '{named}'? '{ref}' is its name)" if named else \
                did_you_mean(ref, self.ids)
            yield self.sm.problem(path, "unknown-rep", f"{owner}: unknown rep '{ref}'{hint}")


def manager_references(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unknown-rep``: a rep's `manager` that is not a rep."""
    reps = _Reps(config, sm)
    for i, rep in enumerate(config.reps):
        if rep.manager is not None:
            yield from reps.check(rep.manager, ("reps", i, "manager"), f"rep '{rep.id}': manager")


def manager_cycles(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``manager-cycle``: reps whose `manager` chain loops back (a rep managing
    themselves included); reported once per loop, at its first rep in file order."""
    reps = config.reps
    for start, order in loops([r.id for r in reps], lambda i: reps[i].manager):
        yield sm.problem(("reps", start, "manager"), "manager-cycle",
                         f"the management chain loops: {' -> '.join(order)}")


def non_selling_reps(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``non-selling-rep``: a `sells: false` rep (a manager who takes no records) named
    as a territory member, an override's `assign_to.rep` or `assignment.default_owner`:
    such reps never receive records."""
    managers = {r.id for r in config.reps if not r.sells}
    if not managers:
        return
    what = "takes no records (sells: false)"
    for i, territory in enumerate(config.territories):
        for j, member in enumerate(territory.members):
            if member.rep in managers:
                yield sm.problem(("territories", i, "members", j, "rep"), "non-selling-rep",
                                 f"territory '{territory.id}': member '{member.rep}' {what}")
    for i, override in enumerate(config.assignment.overrides):
        if override.assign_to.rep in managers:
            yield sm.problem(("assignment", "overrides", i, "assign_to", "rep"),
                             "non-selling-rep",
                             f"override '{override.id}': rep '{override.assign_to.rep}' {what}")
    owner = config.assignment.default_owner
    if owner is not None and owner.rep in managers:
        yield sm.problem(("assignment", "default_owner", "rep"), "non-selling-rep",
                         f"default_owner '{owner.rep}' {what}")


def rep_names(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``duplicate-rep-name`` (warning): two reps whose names (or a name and an id) are
    the same ignoring case and blanks; an owner written that way names neither rep and
    is kept as written."""
    first: dict[str, tuple[str, int]] = {}
    for i, rep in enumerate(config.reps):
        for field, text in (("id", rep.id), ("name", rep.name)):
            key = name_key(text) if text else ""
            if not key:
                continue
            other = first.setdefault(key, (rep.id, i))
            if other[0] != rep.id:
                file, line, col = sm.at(("reps", other[1]))
                yield sm.problem(("reps", i, field), "duplicate-rep-name",
                                 f"rep '{rep.id}': {field} '{text}' also names rep "
                                 f"'{other[0]}' ({file}:{line}:{col}); an owner written so "
                                 "stays as written", "warning")


def _quota_target(quota: object) -> list[tuple[str, str]]:
    return [(key, value) for key in ("rep", "team", "manager")
            if (value := getattr(quota, key)) is not None]


def quotas(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """Quotas: ``quota-target`` (exactly one of `rep`, `team`, `manager`),
    ``unknown-rep`` (a `rep` or `manager` that is not a rep), ``unknown-team`` (a team
    no rep is in), ``bad-period`` (not `2017`, `2017-Q1` or `2017-01`),
    ``duplicate-quota`` (the same target and period twice), ``not-a-manager`` (warning:
    a `manager` quota on a rep nobody reports to)."""
    hierarchy = Hierarchy(config.reps)
    reps = _Reps(config, sm)
    teams = hierarchy.teams()
    seen: dict[tuple[str, str, str], int] = {}
    for i, quota in enumerate(config.quotas):
        path: Path = ("quotas", i)
        target = _quota_target(quota)
        if len(target) != 1:
            how = "none" if not target else " and ".join(k for k, _ in target)
            yield sm.problem(path, "quota-target",
                             f"quota {i + 1}: name exactly one of rep, team and manager, got {how}")
            continue
        key, value = target[0]
        if key == "team" and value not in teams:
            yield sm.problem(path + ("team",), "unknown-team",
                             f"quota: unknown team '{value}'{did_you_mean(value, teams)}")
        elif key != "team":
            yield from reps.check(value, path + (key,), f"quota ({key})")
            if key == "manager" and value in hierarchy.reps and not hierarchy.reports(value):
                yield sm.problem(path + (key,), "not-a-manager",
                                 f"quota: nobody reports to '{value}' (no rep has manager: {value})",
                                 "warning")
        parsed = parse_period(quota.period)
        if parsed is None:
            yield sm.problem(path + ("period",), "bad-period",
                             f"quota period '{quota.period}' is not a year (2017), a quarter "
                             "(2017-Q1) or a month (2017-01)")
            continue
        # a `rep:` quota of a rep who does not sell is that manager's own quota
        same = "manager" if key == "rep" and value in hierarchy.reps \
            and not hierarchy.sells(value) else key
        where = (same, value, _canonical_period(parsed))
        if where in seen:
            file, line, col = sm.at(("quotas", seen[where]))
            first = _quota_target(config.quotas[seen[where]])[0][0]
            also = "" if first == key else \
                f" (as {first}: '{value}' has sells: false, so its rep quota is its manager quota)"
            yield sm.problem(path, "duplicate-quota",
                             f"quota of {key} '{value}' for {quota.period} is already set at "
                             f"{file}:{line}:{col}{also}")
        else:
            seen[where] = i


def _canonical_period(parsed: tuple[int, int, int]) -> str:
    year, quarter, month = parsed
    if month:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-Q{quarter}" if quarter else f"{year:04d}"


CHECKS = (manager_references, manager_cycles, non_selling_reps, rep_names, quotas)
