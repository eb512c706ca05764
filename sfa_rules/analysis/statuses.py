"""Static checks of statuses (SPEC §15): reachability and probability order.

Part of :mod:`analysis`; each check takes the analysis (anything with ``config`` and
``problem``) and yields warnings positioned at the offending status.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from sfa_rules.config.models import Config, StatusMatch, ToDefault, ToFollow, Transition
from sfa_rules.config.order import STAGE_RANK
from sfa_rules.errors import Problem

Path = tuple[str | int, ...]


class Reporter(Protocol):
    """What these checks need from the analysis."""

    config: Config

    def problem(self, path: Path, code: str, message: str, severity: str = ...) -> Problem: ...


def _matching(config: Config, match: StatusMatch | None) -> list[str]:
    """Ids of the statuses a ``from``/``to`` matches (by stage and/or status)."""
    return [
        s.id for s in config.statuses
        if match is None
        or (match.stage is None or s.stage in match.stage)
        and (match.status is None or s.id in match.status)
    ]


def _enabled(config: Config, t: Transition) -> bool:
    """Does some event of the transition still arrive under the feature switches?"""
    settings = config.settings
    return any(
        (settings.opportunities or not e.startswith("opportunity."))
        and (settings.estimates or not e.startswith("estimate."))
        for e in t.on
    )


def _targets(config: Config, t: Transition) -> list[str]:
    defaults = config.lifecycle.defaults
    if isinstance(t.to, ToDefault):
        slot = getattr(defaults, t.to.default)
        return [slot] if slot else []
    if isinstance(t.to, ToFollow):
        mapped = [o.customer_status for o in config.opportunity_statuses if o.customer_status]
        fallback = [defaults.prospect_with_opportunity] if defaults.prospect_with_opportunity else []
        return [*mapped, *fallback]
    return [t.to]


def reachable_statuses(config: Config) -> set[str]:
    """Statuses some default, transition, follow-up or manual change can set."""
    stage = {s.id: s.stage for s in config.statuses}
    lifecycle = config.lifecycle
    out = {v for v in lifecycle.defaults.model_dump().values() if v}
    out |= {f.then.status for f in config.follow_ups if f.then.status}  # `then: {status}`
    for t in lifecycle.transitions:
        starts = _matching(config, t.from_)
        if not _enabled(config, t) or not starts:
            continue
        lowest = min(STAGE_RANK[stage[s]] for s in starts)
        # Automatic transitions never lower the stage (SPEC §6).
        out |= {s for s in _targets(config, t) if s in stage and STAGE_RANK[stage[s]] >= lowest}
    manual = lifecycle.manual
    if manual.allow == "any":
        out |= set(stage)
    elif manual.allow == "forward_only":
        out |= {s for s in stage
                if any(o != s and STAGE_RANK[stage[o]] <= STAGE_RANK[stage[s]] for o in stage)}
    else:
        for change in manual.changes:
            starts = _matching(config, change.from_)
            out |= {s for s in _matching(config, change.to) if any(o != s for o in starts)}
    return out


def unreachable_statuses(analysis: Reporter) -> Iterator[Problem]:
    """Statuses no transition, default, opportunity mapping, follow-up or manual change
    reaches."""
    config = analysis.config
    reachable = reachable_statuses(config)
    for i, s in enumerate(config.statuses):
        if s.id not in reachable:
            yield analysis.problem(
                ("statuses", i), "unreachable-status",
                f"status '{s.id}' can never be set: no default, transition, opportunity "
                f"status, follow-up or manual change (manual.allow: "
                f"{config.lifecycle.manual.allow}) leads to it")


def probability_not_monotonic(analysis: Reporter) -> Iterator[Problem]:
    """Open statuses whose probability falls in declared order within their stage or
    sits below an earlier stage's; open opportunity statuses likewise."""
    config = analysis.config
    open_ = [(i, s) for i, s in enumerate(config.statuses) if not s.closed]
    for i, s in open_:
        same = [o for j, o in open_ if j < i and o.stage == s.stage and o.probability > s.probability]
        lower = [o for _, o in open_ if STAGE_RANK[o.stage] < STAGE_RANK[s.stage] and o.probability > s.probability]
        if same:
            top = max(same, key=lambda o: o.probability)
            yield analysis.problem(
                ("statuses", i), "probability-not-monotonic",
                f"status '{s.id}' ({s.probability}%) is below '{top.id}' ({top.probability}%), "
                f"declared before it in stage {s.stage}")
        elif lower:
            top = max(lower, key=lambda o: o.probability)
            yield analysis.problem(
                ("statuses", i), "probability-not-monotonic",
                f"status '{s.id}' (stage {s.stage}, {s.probability}%) is below '{top.id}' "
                f"(stage {top.stage}, {top.probability}%)")
    best = None
    for i, o in enumerate(config.opportunity_statuses):
        if o.outcome is not None:
            continue
        if best is not None and o.probability < best.probability:
            yield analysis.problem(
                ("opportunity_statuses", i), "probability-not-monotonic",
                f"opportunity status '{o.id}' ({o.probability}%) is below '{best.id}' "
                f"({best.probability}%), declared before it")
        elif best is None or o.probability > best.probability:
            best = o
